"""Clip augmentation and pseudo-video frames keep images, masks, boxes and absent frames consistent."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from instanceformer.train.data.augment import ClipAugmentation, resized_size
from instanceformer.train.data.boxes import mask_boxes_xyxy
from instanceformer.train.data.photometric import rotate_hue
from instanceformer.train.data.pseudo_video import motion_blur, motion_blur_kernel, pseudo_frame
from instanceformer.train.data.randomness import COCO_STREAM, VIDEO_STREAM, SampleRandom
from instanceformer.train.data.sample import targets_from_masks

BACKGROUND = (128, 128, 128)
COLOURS = ((230, 20, 20), (20, 230, 20), (20, 20, 230), (230, 230, 20))


def _painted_clip(
    num_frames: int, height: int, width: int, rectangles: list[list[tuple[int, int, int, int] | None]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames painted with one flat colour per instance, later instances on top; the visible masks.

    ``rectangles[n][t]`` is instance ``n``'s ``(top, left, bottom, right)`` in frame ``t`` or None.
    """
    images = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    images[:] = BACKGROUND
    masks = np.zeros((num_frames, len(rectangles), height, width), dtype=np.uint8)
    for instance, per_frame in enumerate(rectangles):
        for frame, rectangle in enumerate(per_frame):
            if rectangle is None:
                continue
            top, left, bottom, right = rectangle
            masks[frame, :, top:bottom, left:right] = 0
            masks[frame, instance, top:bottom, left:right] = 1
            images[frame, top:bottom, left:right] = COLOURS[instance]
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(masks)


@st.composite
def painted_clips(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    num_frames = draw(st.integers(1, 3))
    height, width = draw(st.integers(24, 64)), draw(st.integers(24, 64))
    rectangles = []
    for _ in range(draw(st.integers(0, len(COLOURS)))):
        per_frame = []
        for _ in range(num_frames):
            if draw(st.booleans()) or not per_frame:
                top, left = draw(st.integers(0, height - 6)), draw(st.integers(0, width - 6))
                bottom = draw(st.integers(top + 6, min(height, top + 30)))
                right = draw(st.integers(left + 6, min(width, left + 30)))
                per_frame.append((top, left, bottom, right))
            else:
                per_frame.append(None)
        rectangles.append(per_frame)
    return _painted_clip(num_frames, height, width, rectangles)


augmentations = st.builds(
    ClipAugmentation,
    min_sizes=st.lists(st.integers(24, 80), min_size=1, max_size=3).map(tuple),
    max_size=st.integers(80, 120),
    flip_probability=st.sampled_from([0.0, 0.5, 1.0]),
    crop_probability=st.sampled_from([0.0, 0.5, 1.0]),
    crop_resize_sizes=st.lists(st.integers(32, 72), min_size=1, max_size=3).map(tuple),
    crop_min_max=st.tuples(st.integers(16, 24), st.integers(24, 48)),
    photometric=st.just(False),
)


def _reference_box(mask: np.ndarray) -> np.ndarray:
    """Tight ``(x0, y0, x1, y1)`` box of a non-empty mask, computed with numpy."""
    rows, columns = np.nonzero(mask)
    return np.array([columns.min(), rows.min(), columns.max() + 1, rows.max() + 1], dtype=np.float64)


def _check_targets(masks: torch.Tensor, image_size: tuple[int, int]) -> None:
    """Boxes equal the masks' boxes (1 px), absent instances have empty masks and zero boxes."""
    num_frames, num_instances = masks.shape[:2]
    targets = targets_from_masks(
        masks,
        labels=torch.arange(num_instances),
        track_ids=torch.arange(num_instances) + 100,
        iscrowd=torch.zeros(num_instances, dtype=torch.bool),
        video_id=9,
        frame_indices=list(range(num_frames)),
    )
    height, width = image_size
    assert targets.image_size == image_size
    assert targets.masks.shape[-2:] == image_size
    kept = [n for n in range(num_instances) if masks[:, n].any()]
    assert targets.track_ids.tolist() == [100 + n for n in kept]
    assert targets.labels.tolist() == kept
    scale = np.array([width, height, width, height], dtype=np.float64)
    for frame in range(num_frames):
        for slot in range(targets.num_instances):
            mask = targets.masks[frame, slot].numpy()
            box = targets.boxes[frame, slot].double().numpy()
            assert bool(targets.present[frame, slot]) == bool(mask.any())
            if mask.any():
                x0, y0, x1, y1 = _reference_box(mask) / scale
                expected = np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])
                assert np.all(np.abs(box - expected) * np.array([width, height, width, height]) <= 1.0)
            else:
                assert np.all(box == 0)
    assert targets.present.any(dim=0).all()


def _check_colours(images: torch.Tensor, masks: torch.Tensor, erosion: int = 1) -> None:
    """Image and masks moved together: inside every (eroded) mask the image is nearest to the instance's
    colour among the background and all instance colours (bilinear edges blend, their midpoint is the
    mask's edge)."""
    palette = np.array([BACKGROUND, *COLOURS], dtype=np.float64)  # [1 + instances, 3]
    matches, total = 0, 0
    for frame in range(images.shape[0]):
        image = images[frame].permute(1, 2, 0).numpy().astype(np.float64)
        for instance in range(masks.shape[1]):
            interior = ndimage.binary_erosion(masks[frame, instance].numpy() > 0, iterations=erosion)
            if interior.any():
                distances = np.linalg.norm(image[interior][:, None, :] - palette[None], axis=2)
                correct = int(np.sum(distances.argmin(axis=1) == instance + 1))
                if interior.sum() >= 12:
                    assert correct >= 0.75 * interior.sum(), (frame, instance)
                matches, total = matches + correct, total + int(interior.sum())
    assert matches >= 0.9 * total or total < 30


@settings(max_examples=60, deadline=None)
@given(clip=painted_clips(), augmentation=augmentations, seed=st.integers(0, 2**16))
def test_augmentation_keeps_masks_boxes_and_images_consistent(
    clip: tuple[torch.Tensor, torch.Tensor], augmentation: ClipAugmentation, seed: int
) -> None:
    images, masks = clip
    out_images, out_masks = augmentation(images, masks, SampleRandom(seed, 0, 0, VIDEO_STREAM))
    num_frames = images.shape[0]
    assert out_images.dtype == torch.uint8 and out_masks.dtype == torch.uint8
    assert out_images.shape[:2] == (num_frames, 3)
    assert out_masks.shape[:2] == masks.shape[:2]
    assert out_images.shape[-2:] == out_masks.shape[-2:]
    height, width = out_images.shape[-2:]
    assert min(height, width) <= max(augmentation.min_sizes) and max(height, width) <= augmentation.max_size
    _check_targets(out_masks, (height, width))
    # A mask resized twice (crop path) keeps the first resize's half-pixel rounding, magnified by the
    # second resize: erode by that much before comparing colours.
    erosion = 1
    if augmentation.crop_probability > 0:
        erosion = 2 + math.ceil(0.5 * min(height, width) / augmentation.crop_min_max[0])
    _check_colours(out_images, out_masks, erosion)


@settings(max_examples=25, deadline=None)
@given(clip=painted_clips(), augmentation=augmentations, seed=st.integers(0, 2**16))
def test_photometric_changes_only_colours(
    clip: tuple[torch.Tensor, torch.Tensor], augmentation: ClipAugmentation, seed: int
) -> None:
    images, masks = clip
    plain_images, plain_masks = augmentation(images, masks, SampleRandom(seed, 0, 0, VIDEO_STREAM))
    coloured = ClipAugmentation(**{**vars(augmentation), "photometric": True})
    photo_images, photo_masks = coloured(images, masks, SampleRandom(seed, 0, 0, VIDEO_STREAM))
    assert torch.equal(plain_masks, photo_masks)
    assert photo_images.shape == plain_images.shape


def test_flip_and_identity_resize_are_exact() -> None:
    images, masks = _painted_clip(2, 30, 40, [[(2, 3, 12, 20), None], [(10, 25, 28, 39), (0, 0, 8, 8)]])
    flip = ClipAugmentation(
        min_sizes=(30,), max_size=40, flip_probability=1.0, crop_probability=0.0, photometric=False
    )
    out_images, out_masks = flip(images, masks, SampleRandom(0, 0, 0, 1))
    assert torch.equal(out_images, images.flip(-1))
    assert torch.equal(out_masks, masks.flip(-1))
    same = ClipAugmentation(
        min_sizes=(30,), max_size=40, flip_probability=0.0, crop_probability=0.0, photometric=False
    )
    out_images, out_masks = same(images, masks, SampleRandom(0, 0, 0, 1))
    assert torch.equal(out_images, images) and torch.equal(out_masks, masks)


def test_crop_keeps_a_visible_instance() -> None:
    images, masks = _painted_clip(1, 64, 64, [[(50, 50, 56, 56)]])
    crop = ClipAugmentation(
        min_sizes=(64,),
        max_size=200,
        flip_probability=0.0,
        crop_probability=1.0,
        crop_resize_sizes=(64,),
        crop_min_max=(16, 16),
        photometric=False,
    )
    for seed in range(20):
        _, out_masks = crop(images, masks, SampleRandom(seed, 0, 0, 1))
        assert out_masks.any()


@settings(max_examples=200, deadline=None)
@given(
    height=st.integers(16, 2000),
    width=st.integers(16, 2000),
    short=st.integers(16, 800),
    extra=st.one_of(st.none(), st.integers(0, 1000)),
)
def test_resized_size_keeps_the_aspect_ratio(height: int, width: int, short: int, extra: int | None) -> None:
    cap = None if extra is None else short + extra
    new_height, new_width = resized_size(height, width, short, cap)
    capped = cap is not None and max(height, width) * short / min(height, width) > cap
    if capped:
        assert max(new_height, new_width) == cap
        assert min(new_height, new_width) <= short
    else:
        assert min(new_height, new_width) == short
    scale = max(new_height, new_width) / max(height, width)
    exact_short = min(height, width) * scale
    assert abs(min(new_height, new_width) - exact_short) <= 0.5 + 1e-9 or (
        exact_short < 1 and min(new_height, new_width) == 1
    )


def test_mask_boxes_match_numpy() -> None:
    generator = np.random.default_rng(0)
    masks = generator.random((5, 3, 17, 23)) > 0.97
    masks[0, 0] = False
    boxes = mask_boxes_xyxy(torch.from_numpy(masks)).numpy()
    for index in np.ndindex(masks.shape[:2]):
        if masks[index].any():
            assert np.array_equal(boxes[index], _reference_box(masks[index]))
        else:
            assert np.all(boxes[index] == 0)


def test_hue_rotation_keeps_grey_and_luma_and_turns_like_hsv() -> None:
    generator = torch.Generator().manual_seed(0)
    image = (torch.rand(3, 16, 16, generator=generator) * 120 + 60).round().to(torch.uint8)  # no clipping
    assert torch.equal(rotate_hue(image, 0.0), image)
    assert (rotate_hue(image, 1.0).int() - image.int()).abs().max() <= 1
    grey = torch.full((3, 4, 4), 93, dtype=torch.uint8)
    assert (rotate_hue(grey, 0.3).int() - 93).abs().max() <= 1
    luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    turned = rotate_hue(image, 0.05)
    assert ((turned.float() * luma).sum(0) - (image.float() * luma).sum(0)).abs().max() <= 1.0
    red = torch.tensor([200, 40, 40], dtype=torch.uint8).view(3, 1, 1)
    red_sixth = rotate_hue(red, 1 / 6).flatten().tolist()
    assert red_sixth[0] > red_sixth[1] > red_sixth[2]  # towards yellow, as HSV hue grows
    red_third = rotate_hue(red, 1 / 3).flatten().tolist()
    assert red_third[1] == max(red_third)  # green


def test_motion_blur_kernel_is_a_normalised_line() -> None:
    horizontal = motion_blur_kernel(5, 0.0)
    assert torch.allclose(horizontal.sum(), torch.tensor(1.0))
    assert torch.count_nonzero(horizontal) == 5 and torch.count_nonzero(horizontal[2]) == 5
    vertical = motion_blur_kernel(5, 90.0)
    assert torch.count_nonzero(vertical[:, 2]) == 5
    flat = torch.full((3, 9, 9), 77, dtype=torch.uint8)
    assert torch.equal(motion_blur(flat, 5, 33.0), flat)


@settings(max_examples=25, deadline=None)
@given(clip=painted_clips(), seed=st.integers(0, 2**16))
def test_pseudo_frames_move_image_and_masks_together(
    clip: tuple[torch.Tensor, torch.Tensor], seed: int
) -> None:
    images, masks = clip
    image, frame_masks = images[0], masks[0]
    variant_image, variant_masks = pseudo_frame(image, frame_masks, SampleRandom(seed, 0, 0, COCO_STREAM))
    assert variant_image.shape == image.shape and variant_image.dtype == torch.uint8
    assert variant_masks.shape == frame_masks.shape and variant_masks.dtype == torch.uint8
    assert set(torch.unique(variant_masks).tolist()) <= {0, 1}
    _check_targets(variant_masks.unsqueeze(0), tuple(image.shape[-2:]))
    # Colours may change globally (photometric variant); an aligned mask still covers one flat colour.
    pixels = variant_image.permute(1, 2, 0).numpy().astype(np.float64)
    for instance in range(frame_masks.shape[0]):
        interior = ndimage.binary_erosion(variant_masks[instance].numpy() > 0, iterations=2)
        if interior.sum() >= 4:
            assert pixels[interior].std(axis=0).max() < 8.0, instance

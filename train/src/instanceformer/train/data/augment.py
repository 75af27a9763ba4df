"""Geometric and photometric augmentation of a training clip; the published recipe.

All frames of a clip share the geometric transform (one flip decision, one size, one crop), so the
clip keeps one image size and objects move as they did in the video. The steps, in order:

1. horizontal flip with ``flip_probability``;
2. with ``crop_probability``: resize the short side to one of ``crop_resize_sizes``, then crop a random
   region with sides in ``crop_min_max`` (a region that keeps at least one of the clip's visible
   instances, when the clip has any; after 10 failed draws the crop is skipped);
3. resize the short side to one of ``train_min_sizes``, the long side at most ``train_max_size``;
4. with ``photometric``: a photometric distortion per frame (:mod:`.photometric`).

Images and masks travel together as ``tv_tensors.Image`` / ``tv_tensors.Mask`` through the
``torchvision.transforms.v2`` functional ops (bilinear for images, nearest with aligned pixel centres
for masks). Boxes are not transformed: the targets take the tight boxes of the transformed masks (a
cropped or warped box is looser than the object it holds).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from instanceformer.core.config import DataConfig
from instanceformer.train.data.photometric import distort_photometric
from instanceformer.train.data.randomness import SampleRandom

CROP_ATTEMPTS = 10


def resized_size(height: int, width: int, short_side: int, max_long_side: int | None) -> tuple[int, int]:
    """The ``(height, width)`` after scaling the short side to ``short_side`` with the long side capped.

    The aspect ratio is kept (up to rounding); both sides are at least 1 pixel.
    """
    scale = short_side / min(height, width)
    if max_long_side is not None and max(height, width) * scale > max_long_side:
        scale = max_long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass(frozen=True)
class ClipAugmentation:
    """The augmentation settings of the training data; call it on a clip to augment it."""

    min_sizes: tuple[int, ...] = (288, 320, 352, 392, 416, 448, 480, 512)
    max_size: int = 768
    flip_probability: float = 0.5
    crop_probability: float = 0.5
    crop_resize_sizes: tuple[int, ...] = (400, 500, 600)
    crop_min_max: tuple[int, int] = (384, 600)
    photometric: bool = True

    @classmethod
    def from_config(cls, data: DataConfig) -> ClipAugmentation:
        """The augmentation described by the ``data`` section of a configuration."""
        return cls(
            min_sizes=tuple(data.train_min_sizes),
            max_size=data.train_max_size,
            flip_probability=data.flip_probability,
            crop_probability=data.crop_probability,
            crop_resize_sizes=tuple(data.crop_resize_sizes),
            crop_min_max=(int(data.crop_min_max[0]), int(data.crop_min_max[1])),
            photometric=data.photometric,
        )

    def __call__(
        self, images: torch.Tensor, masks: torch.Tensor, random: SampleRandom
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment a clip.

        Args:
            images: ``[num_frames, 3, height, width]`` uint8 RGB.
            masks: ``[num_frames, num_instances, height, width]`` uint8 (0/1).
            random: the sample's random stream.

        Returns:
            ``(images, masks)`` as plain tensors: ``[num_frames, 3, new_height, new_width]`` uint8 and
            ``[num_frames, num_instances, new_height, new_width]`` uint8.
        """
        images, masks = tv_tensors.Image(images), tv_tensors.Mask(masks)
        if random.chance(self.flip_probability):
            images, masks = F.horizontal_flip(images), F.horizontal_flip(masks)
        if random.chance(self.crop_probability):
            images, masks = self._resize(images, masks, random.choice(self.crop_resize_sizes), None)
            images, masks = self._random_crop(images, masks, random)
        images, masks = self._resize(images, masks, random.choice(self.min_sizes), self.max_size)
        if self.photometric:
            images = tv_tensors.Image(torch.stack([distort_photometric(frame, random) for frame in images]))
        return images.as_subclass(torch.Tensor), masks.as_subclass(torch.Tensor)

    @staticmethod
    def _resize(
        images: tv_tensors.Image, masks: tv_tensors.Mask, short_side: int, max_long_side: int | None
    ) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        """Resize images (bilinear, antialiased) and masks (nearest, centres aligned) to one new size."""
        height, width = images.shape[-2:]
        size = list(resized_size(height, width, short_side, max_long_side))
        if size == [height, width]:
            return images, masks
        return (
            F.resize(images, size, antialias=True),
            F.resize(masks, size, interpolation=F.InterpolationMode.NEAREST_EXACT),
        )

    def _random_crop(
        self, images: tv_tensors.Image, masks: tv_tensors.Mask, random: SampleRandom
    ) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        """Crop a random region that keeps a visible instance (when there is one); else leave the clip."""
        height, width = images.shape[-2:]
        low, high = self.crop_min_max
        has_visible_instance = bool(masks.any())
        for _ in range(CROP_ATTEMPTS):
            crop_height = random.integer(min(low, height), min(high, height))
            crop_width = random.integer(min(low, width), min(high, width))
            top = random.integer(0, height - crop_height)
            left = random.integer(0, width - crop_width)
            inside = masks[..., top : top + crop_height, left : left + crop_width]  # [T, N, h, w]
            if has_visible_instance and not bool(inside.any()):
                continue
            return (
                F.crop(images, top, left, crop_height, crop_width),
                F.crop(masks, top, left, crop_height, crop_width),
            )
        return images, masks

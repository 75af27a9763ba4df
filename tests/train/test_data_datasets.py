"""Clip datasets, COCO pseudo-videos, joint training, collation and the training loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from instanceformer.core import load_config
from instanceformer.core.config import Config
from instanceformer.core.errors import ConfigError, FormatError, UserError
from instanceformer.core.formats import (
    COCO_CATEGORIES,
    COCO_TO_VIDEO,
    OVIS_CATEGORIES,
    decode_segmentation,
    load_annotations,
)
from instanceformer.core.formats.class_index import ClassIndex
from instanceformer.core.formats.coco import load_coco_annotations, parse_coco_annotations
from instanceformer.core.formats.data_paths import resolve_data_paths
from instanceformer.core.formats.manifest import read_manifest_entry, write_manifest_entry
from instanceformer.core.model.batch import IMAGENET_MEAN, IMAGENET_STD, ClipTargets
from instanceformer.train.data.augment import ClipAugmentation
from instanceformer.train.data.coco_clips import CocoPseudoVideoDataset
from instanceformer.train.data.collate import collate_clips
from instanceformer.train.data.joint import JointClipDataset
from instanceformer.train.data.loader import _coco_category_map, build_train_dataset, build_train_loader
from instanceformer.train.data.sample import ClipSample
from instanceformer.train.data.video_clips import VideoClipDataset

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

NUM_FRAMES_PER_VIDEO = 6
IDENTITY_AUGMENTATION = [
    "data.train_min_sizes=[64]",
    "data.train_max_size=96",
    "data.flip_probability=0.0",
    "data.crop_probability=0.0",
    "data.photometric=false",
]

# Every random step on, at sizes that keep the tests fast.
RANDOM_AUGMENTATION = [
    "data.train_min_sizes=[56, 64, 72]",
    "data.train_max_size=128",
    "data.crop_probability=0.5",
    "data.crop_resize_sizes=[72, 80]",
    "data.crop_min_max=[40, 64]",
    "data.photometric=true",
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding ``synth/``: 4 training videos of 6 frames of 64x96, 6 categories."""
    from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset

    root = tmp_path_factory.mktemp("data")
    spec = SynthSpec(
        train_videos=4, valid_videos=1, num_frames=NUM_FRAMES_PER_VIDEO, height=64, width=96, seed=5
    )
    generate_synthetic_dataset(root / "synth", spec)
    return root


def _config(data_root: Path, *overrides: str) -> Config:
    """The tiny preset with 2 clips of 3 frames per batch (what these tests count on)."""
    shape = ["data.num_frames=3", "train.batch_size=2", "train.total_batch_size=2"]
    return load_config("tiny-cpu", [f"data.root={data_root}", "data.dataset=synth", *shape, *overrides])


def _assert_same_targets(first: ClipTargets, second: ClipTargets) -> None:
    for name in ("labels", "boxes", "masks", "present", "track_ids", "frame_indices"):
        assert torch.equal(getattr(first, name), getattr(second, name)), name
    assert (first.image_size, first.video_id) == (second.image_size, second.video_id)
    assert (first.iscrowd is None) == (second.iscrowd is None)


def _assert_same_sample(first: ClipSample, second: ClipSample) -> None:
    assert torch.equal(first.images, second.images)
    _assert_same_targets(first.targets, second.targets)


def test_video_clips_reproduce_the_annotations(data_root: Path) -> None:
    dataset = build_train_dataset(_config(data_root, *IDENTITY_AUGMENTATION))
    assert isinstance(dataset, VideoClipDataset)
    annotations = load_annotations(data_root / "synth" / "annotations" / "instances_train.json")
    assert len(dataset) == 4 * NUM_FRAMES_PER_VIDEO
    frames_root = data_root / "synth" / "train" / "JPEGImages"
    for index in (0, 5, 8, 23):
        sample = dataset[index]
        targets = sample.targets
        video = annotations.videos[index // NUM_FRAMES_PER_VIDEO]
        anchor = index % NUM_FRAMES_PER_VIDEO
        frames = targets.frame_indices.tolist()
        assert len(frames) == 3 and frames == sorted(frames) and anchor in frames
        assert targets.video_id == video.id
        assert sample.images.shape == (3, 3, 64, 96) and sample.images.dtype == torch.uint8
        for slot, frame in enumerate(frames):
            reference = np.asarray(Image.open(frames_root / video.file_names[frame]).convert("RGB"))
            decoded = sample.images[slot].permute(1, 2, 0).numpy().astype(int)
            assert np.abs(decoded - reference).mean() < 1.0
        tracks = [t for t in annotations.tracks_of(video.id) if any(t.segmentations[f] for f in frames)]
        assert targets.track_ids.tolist() == [track.id for track in tracks]
        assert targets.labels.tolist() == [track.category_id - 1 for track in tracks]
        assert targets.iscrowd is None
        for slot, frame in enumerate(frames):
            for instance, track in enumerate(tracks):
                segmentation = track.segmentations[frame]
                present = segmentation is not None
                assert bool(targets.present[slot, instance]) == present
                if not present:
                    assert not targets.masks[slot, instance].any()
                    assert torch.all(targets.boxes[slot, instance] == 0)
                    continue
                mask = decode_segmentation(segmentation, video.height, video.width).astype(bool)
                assert np.array_equal(targets.masks[slot, instance].numpy(), mask)
                x, y, w, h = track.bboxes[frame]
                expected = torch.tensor([(x + w / 2) / 96, (y + h / 2) / 64, w / 96, h / 64])
                assert torch.allclose(targets.boxes[slot, instance], expected, atol=1e-6)


def test_samples_depend_only_on_seed_epoch_and_index(data_root: Path) -> None:
    config = _config(data_root, *RANDOM_AUGMENTATION)
    dataset = build_train_dataset(config)
    again = build_train_dataset(config)
    for index in (0, 7, 19):
        _assert_same_sample(dataset[(2, index)], again[(2, index)])
    dataset.set_epoch(2)
    _assert_same_sample(dataset[7], again[(2, 7)])
    differs = [not torch.equal(dataset[(0, i)].images, dataset[(1, i)].images) for i in range(6)]
    assert any(differs)
    other_seed = build_train_dataset(_config(data_root, *RANDOM_AUGMENTATION, "train.seed=43"))
    assert any(not torch.equal(other_seed[(0, i)].images, dataset[(0, i)].images) for i in range(6))
    with pytest.raises(IndexError):
        dataset[len(dataset)]


def test_loader_batches_are_identical_with_0_and_2_workers(data_root: Path) -> None:
    config = _config(data_root, *RANDOM_AUGMENTATION)
    dataset = build_train_dataset(config)
    batches = {}
    for workers in (0, 2):
        loader = build_train_loader(config, dataset=dataset, num_workers=workers)
        loader.set_epoch(1)
        batches[workers] = list(loader)
        assert len(batches[workers]) == len(loader) == len(dataset) // config.train.batch_size
        del loader
    for serial, parallel in zip(batches[0], batches[2], strict=True):
        assert torch.equal(serial.images, parallel.images)
        assert torch.equal(serial.padding_mask, parallel.padding_mask)
        for first, second in zip(serial.targets, parallel.targets, strict=True):
            _assert_same_targets(first, second)
    first = batches[0][0]
    assert first.images.shape[:3] == (2, 3, 3)
    assert first.images.shape[-2] % 32 == 0 and first.images.shape[-1] % 32 == 0


def test_processes_share_one_epoch_of_samples(data_root: Path) -> None:
    config = _config(data_root, *IDENTITY_AUGMENTATION)
    dataset = build_train_dataset(config)
    seen = []
    for rank in range(2):
        loader = build_train_loader(
            config, dataset=dataset, rank=rank, world_size=2, num_workers=0, batch_size=1
        )
        loader.set_epoch(0)
        seen.extend(
            (batch.targets[0].video_id, tuple(batch.targets[0].frame_indices.tolist())) for batch in loader
        )
    single = build_train_loader(config, dataset=dataset, num_workers=0, batch_size=1)
    single.set_epoch(0)
    expected = [
        (batch.targets[0].video_id, tuple(batch.targets[0].frame_indices.tolist())) for batch in single
    ]
    assert sorted(seen) == sorted(expected)


def _sample(height: int, width: int, num_frames: int = 2) -> ClipSample:
    generator = torch.Generator().manual_seed(height * width)
    images = torch.randint(0, 256, (num_frames, 3, height, width), dtype=torch.uint8, generator=generator)
    masks = torch.zeros(num_frames, 1, height, width, dtype=torch.bool)
    masks[:, 0, 1:3, 2:5] = True
    targets = ClipTargets(
        labels=torch.tensor([1]),
        boxes=torch.zeros(num_frames, 1, 4),
        masks=masks,
        present=torch.ones(num_frames, 1, dtype=torch.bool),
        track_ids=torch.tensor([7]),
        image_size=(height, width),
        video_id=1,
        frame_indices=torch.arange(num_frames),
    )
    return ClipSample(images=images, targets=targets)


def test_collation_pads_normalises_and_masks() -> None:
    samples = [_sample(40, 50), _sample(70, 33)]
    batch = collate_clips(samples, size_divisibility=32)
    assert batch.images.shape == (2, 2, 3, 96, 64)
    assert batch.padding_mask.shape == (2, 96, 64)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    for position, sample in enumerate(samples):
        height, width = sample.images.shape[-2:]
        restored = (batch.images[position, :, :, :height, :width] * std + mean) * 255
        assert torch.allclose(restored, sample.images.float(), atol=1e-3)
        assert not batch.padding_mask[position, :height, :width].any()
        assert batch.padding_mask[position].sum() == 96 * 64 - height * width
        assert torch.all(batch.images[position, :, :, height:, :] == 0)
        assert torch.all(batch.images[position, :, :, :, width:] == 0)
        assert batch.targets[position] is sample.targets
    assert collate_clips([_sample(32, 64)], 32).images.shape[-2:] == (32, 64)
    with pytest.raises(ValueError):
        collate_clips([_sample(8, 8, 2), _sample(8, 8, 3)])


def test_configuration_problems_are_user_errors(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.num_classes"):
        build_train_dataset(_config(data_root, "model.num_classes=5"))
    with pytest.raises(UserError, match="data.train_annotations"):
        build_train_dataset(_config(tmp_path))
    with pytest.raises(ConfigError, match="train.batch_size"):
        build_train_loader(
            _config(data_root, "train.batch_size=30", "train.total_batch_size=30"), num_workers=0
        )


def _painted_image(path: Path, rectangles: list[tuple[int, int, int, int]]) -> None:
    image = np.full((40, 60, 3), 100, dtype=np.uint8)
    for number, (x, y, w, h) in enumerate(rectangles):
        image[y : y + h, x : x + w] = (40 * number + 20, 200, 255 - 40 * number)
    Image.fromarray(image).save(path)


def _coco_file(folder: Path, categories: list[dict[str, Any]], objects: list[list[tuple[int, int]]]) -> Path:
    """One PNG image per entry of ``objects``; each object ``(category_id, iscrowd)`` a painted rectangle."""
    folder.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for image_id, image_objects in enumerate(objects, 1):
        rectangles = [(4 + 7 * n, 3 + 4 * n, 6, 8) for n in range(len(image_objects))]
        _painted_image(folder / f"{image_id}.png", rectangles)
        images.append({"id": image_id, "file_name": f"{image_id}.png", "height": 40, "width": 60})
        for (category_id, crowd), (x, y, w, h) in zip(image_objects, rectangles, strict=True):
            polygon = [[x, y, x + w, y, x + w, y + h, x, y + h]]
            annotations.append(
                {
                    "id": 1000 + len(annotations),
                    "image_id": image_id,
                    "category_id": category_id,
                    "segmentation": polygon,
                    "area": float(w * h),
                    "bbox": [x, y, w, h],
                    "iscrowd": crowd,
                }
            )
    path = folder / "coco.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def test_coco_pseudo_videos(tmp_path: Path) -> None:
    coco_categories = [category.to_json() for category in COCO_CATEGORIES]
    path = _coco_file(
        tmp_path,
        coco_categories,
        [[(1, 0), (4, 0), (74, 0)], [(74, 0)], [(3, 0), (3, 1)], [(1, 0)] * 4, [(1, 1)]],
    )
    coco = load_coco_annotations(path)
    class_index = ClassIndex.from_categories(OVIS_CATEGORIES)
    identity = ClipAugmentation(
        min_sizes=(40,), max_size=60, flip_probability=0, crop_probability=0, photometric=False
    )
    dataset = CocoPseudoVideoDataset(
        coco,
        tmp_path,
        num_frames=3,
        augmentation=identity,
        seed=1,
        class_index=class_index,
        category_map=COCO_TO_VIDEO["ovis"],
        max_instances=3,
    )
    # Image 2 only has an unmapped category, image 4 too many objects, image 5 only a crowd object.
    assert len(dataset) == 2
    sample = dataset[(0, 0)]
    targets = sample.targets
    assert sorted(targets.frame_indices.tolist()) == [0, 1, 2]
    original_slot = targets.frame_indices.tolist().index(0)
    original = torch.from_numpy(np.array(Image.open(tmp_path / "1.png"))).permute(2, 0, 1)
    assert torch.equal(sample.images[original_slot], original)
    assert targets.video_id == 1
    assert targets.track_ids.tolist() == [1000, 1001]  # the mouse (1002) is not an OVIS category
    ovis_names = [category.name for category in OVIS_CATEGORIES]
    assert [ovis_names[label] for label in targets.labels.tolist()] == ["Person", "Motorcycle"]
    for annotation, slot in ((coco.annotations[0], 0), (coco.annotations[1], 1)):
        mask = decode_segmentation(annotation.segmentation, 40, 60).astype(bool)
        assert np.array_equal(targets.masks[original_slot, slot].numpy(), mask)
    variants = [slot for slot in range(3) if slot != original_slot]
    assert all(not torch.equal(sample.images[slot], original) for slot in variants)
    crowd = dataset[(0, 1)].targets
    assert crowd.iscrowd is not None and crowd.iscrowd.tolist() == [False, True]
    assert [ovis_names[label] for label in crowd.labels.tolist()] == ["Vehical", "Vehical"]
    _assert_same_sample(dataset[(3, 1)], dataset[(3, 1)])


def test_joint_dataset_mixes_at_the_ratio(data_root: Path, tmp_path: Path) -> None:
    config = _config(data_root, *IDENTITY_AUGMENTATION)
    video = build_train_dataset(config)
    synth_categories = [
        {"id": i, "name": n}
        for i, n in zip(video.class_index.category_ids, video.class_index.names, strict=True)
    ]
    path = _coco_file(tmp_path / "coco", synth_categories, [[(1, 0)], [(2, 0), (3, 0)], [(6, 0)]])
    coco = CocoPseudoVideoDataset(
        load_coco_annotations(path),
        tmp_path / "coco",
        num_frames=3,
        augmentation=ClipAugmentation.from_config(config.data),
        seed=config.train.seed,
        class_index=video.class_index,
    )
    joint = JointClipDataset(video, coco, coco_ratio=0.25, seed=config.train.seed)
    assert (joint.num_video_samples, joint.num_coco_samples) == (24, 8)
    assert len(joint) == 32
    _assert_same_sample(joint[(1, 3)], video[(1, 3)])
    coco_ids = [joint[(1, index)].targets.video_id for index in range(24, 32)]
    assert sorted(coco_ids[:3]) == [1, 2, 3] and coco_ids[3:6] == coco_ids[:3]
    assert [joint.coco_index(1, i) for i in range(24, 27)] != [
        joint.coco_index(2, i) for i in range(24, 27)
    ] or ([joint.coco_index(1, i) for i in range(24, 27)] != [joint.coco_index(3, i) for i in range(24, 27)])
    assert len(JointClipDataset(video, coco, 0.0, 0)) == 24
    only_coco = JointClipDataset(video, coco, 1.0, 0)
    assert len(only_coco) == 3 and only_coco.num_video_samples == 0

    joint_config = _config(
        data_root,
        *IDENTITY_AUGMENTATION,
        "data.coco_joint=true",
        f"data.coco_annotations={path}",
        f"data.coco_frames={tmp_path / 'coco'}",
    )
    built = build_train_dataset(joint_config)
    assert isinstance(built, JointClipDataset) and len(built) == 48


def test_coco_category_maps(tmp_path: Path) -> None:
    ovis = ClassIndex.from_categories(OVIS_CATEGORIES)
    coco_file = _coco_file(tmp_path / "a", [c.to_json() for c in COCO_CATEGORIES], [[(1, 0)]])
    assert _coco_category_map(load_coco_annotations(coco_file), ovis, "ovis", "x") == COCO_TO_VIDEO["ovis"]
    kept = _coco_file(tmp_path / "b", [c.to_json() for c in OVIS_CATEGORIES], [[(25, 0)]])
    assert _coco_category_map(load_coco_annotations(kept), ovis, "ovis", "x") is None
    other = _coco_file(tmp_path / "c", [{"id": 1, "name": "thing"}], [[(1, 0)]])
    with pytest.raises(FormatError, match="categories"):
        _coco_category_map(load_coco_annotations(other), ovis, "ovis", "x")


def test_coco_pretraining_dataset(tmp_path: Path) -> None:
    path = _coco_file(
        tmp_path / "coco" / "images", [c.to_json() for c in COCO_CATEGORIES], [[(1, 0)], [(90, 0)]]
    )
    overrides = [
        "model.backbone.weights=resnet50-0676ba61.pth",  # the R50 presets ask for one; never opened here
        "data.dataset=coco",
        "data.num_frames=1",
        f"data.train_annotations={path}",
        f"data.train_frames={path.parent}",
        *IDENTITY_AUGMENTATION[:1],
    ]
    dataset = build_train_dataset(load_config("r50-coco-pretrain", overrides))
    assert isinstance(dataset, CocoPseudoVideoDataset) and len(dataset) == 2
    assert dataset[1].targets.labels.tolist() == [79]  # toothbrush, the last of 80 classes
    with pytest.raises(ConfigError, match="model.num_classes"):
        build_train_dataset(load_config("r50-coco-pretrain", [*overrides, "model.num_classes=40"]))


def test_default_paths_follow_the_documented_layout(tmp_path: Path) -> None:
    weights = "model.backbone.weights=resnet50-0676ba61.pth"  # the R50 presets ask for one
    ytvis = resolve_data_paths(load_config("r50-ytvis21", [weights, "data.root=/d"]).data)
    assert ytvis.train_annotations == Path("/d/ytvis21/annotations/instances_train_sub.json")
    assert ytvis.train_frames == ytvis.val_frames == Path("/d/ytvis21/train/JPEGImages")
    assert ytvis.val_annotations == Path("/d/ytvis21/annotations/instances_val_sub.json")
    assert ytvis.coco_annotations == Path("/d/coco/annotations/instances_train2017_ytvis21.json")
    assert ytvis.coco_frames == Path("/d/coco/train2017")
    synth = resolve_data_paths(load_config("tiny-cpu").data, environ={"IFM_DATA_ROOT": "/env"})
    assert synth.train_annotations == Path("/env/synth/annotations/instances_train.json")
    assert synth.val_frames == Path("/env/synth/valid/JPEGImages")
    assert resolve_data_paths(load_config("tiny-cpu").data, environ={}).train_frames == Path(
        "data/synth/train/JPEGImages"
    )
    coco_config = load_config("r50-coco-pretrain", [weights, "data.train_frames=/imgs"])
    coco = resolve_data_paths(coco_config.data, environ={})
    assert coco.train_annotations == Path("data/coco/annotations/instances_train2017.json")
    assert coco.train_frames == Path("/imgs")


def test_manifest_entries_are_merged(tmp_path: Path) -> None:
    first, second = tmp_path / "instances_train.json", tmp_path / "instances_valid.json"
    assert read_manifest_entry(first) is None
    write_manifest_entry(first, {"kind": "synth", "split": "train"})
    write_manifest_entry(second, {"kind": "synth", "split": "valid"})
    write_manifest_entry(first, {"kind": "synth", "split": "train", "num_problems": 0})
    assert read_manifest_entry(first) == {"kind": "synth", "split": "train", "num_problems": 0}
    assert read_manifest_entry(second)["split"] == "valid"
    (tmp_path / "manifest.json").write_text("[1, 2")
    with pytest.raises(FormatError, match="manifest.json"):
        read_manifest_entry(first)


def _coco_payload() -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 10, "width": 10}],
        "annotations": [
            {
                "id": 5,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[1, 1, 5, 1, 5, 5]],
                "area": 8.0,
                "bbox": [1, 1, 4, 4],
                "iscrowd": 0,
            }
        ],
        "categories": [{"id": 1, "name": "person"}],
    }


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (lambda p: p.pop("images"), ("'images'", "missing")),
        (lambda p: p["images"].append(dict(p["images"][0])), ("images[1] (id 1)", "unique")),
        (lambda p: p["annotations"][0].update(image_id=9), ("annotations[0] (id 5)", "'image_id'", "got 9")),
        (lambda p: p["annotations"][0].update(category_id=2), ("'category_id'", "got 2")),
        (lambda p: p["annotations"][0].update(iscrowd=2), ("'iscrowd'",)),
        (lambda p: p["annotations"][0].update(bbox=[1, 2]), ("'bbox'",)),
        (lambda p: p["annotations"][0].update(area=-1), ("'area'",)),
        (
            lambda p: p["annotations"][0].update(segmentation={"size": [10, 9], "counts": [90]}),
            ("'segmentation'", "[10, 10]"),
        ),
    ],
)
def test_coco_validation_names_record_and_field(edit, fragments: tuple[str, ...]) -> None:
    payload = _coco_payload()
    assert len(parse_coco_annotations(payload, "ok.json").annotations) == 1
    edit(payload)
    with pytest.raises(FormatError) as problem:
        parse_coco_annotations(payload, "coco.json")
    message = str(problem.value)
    assert message.startswith("coco.json: ")
    for fragment in fragments:
        assert fragment in message, message


def test_class_index_maps_ids_both_ways() -> None:
    index = ClassIndex.from_categories(reversed(OVIS_CATEGORIES))
    assert index.num_classes == 25
    assert index.index(1) == 0 and index.category_id(24) == 25
    assert index.names[21] == "Motorcycle"
    assert 26 not in index
    with pytest.raises(KeyError, match="26"):
        index.index(26)
    with pytest.raises(IndexError):
        index.category_id(25)
    assert index.to_json()[0] == {"index": 0, "category_id": 1, "name": "Person"}

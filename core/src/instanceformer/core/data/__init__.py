"""The training data pipeline: clip datasets, augmentation, sampling, collation and the loader.

- :class:`VideoClipDataset`: YouTube-VIS / OVIS / synthetic videos, one clip per anchor frame.
- :class:`CocoPseudoVideoDataset`: COCO images as pseudo-videos of warped variants.
- :class:`JointClipDataset`: both, mixed at ``data.coco_ratio``.
- :func:`build_train_loader`: the DataLoader producing :class:`~instanceformer.core.structures.ClipBatch`.

Every random choice derives from ``(train.seed, epoch, sample index)``.

Names are imported on first use, so that reading annotation files or manifests does not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ClassIndex": "instanceformer.core.data.class_index",
    "ClipAugmentation": "instanceformer.core.data.augment",
    "ClipCollator": "instanceformer.core.data.collate",
    "ClipSample": "instanceformer.core.data.sample",
    "ClipSampler": "instanceformer.core.data.sampler",
    "CocoAnnotation": "instanceformer.core.data.coco_annotations",
    "CocoImage": "instanceformer.core.data.coco_annotations",
    "CocoImageDataset": "instanceformer.core.data.coco_annotations",
    "CocoPseudoVideoDataset": "instanceformer.core.data.coco_clips",
    "DataPaths": "instanceformer.core.data.paths",
    "EpochClipDataset": "instanceformer.core.data.clip_dataset",
    "JointClipDataset": "instanceformer.core.data.joint",
    "MANIFEST_NAME": "instanceformer.core.data.dataset_manifest",
    "SampleRandom": "instanceformer.core.data.randomness",
    "TrainLoader": "instanceformer.core.data.loader",
    "VideoClipDataset": "instanceformer.core.data.video_clips",
    "build_train_dataset": "instanceformer.core.data.loader",
    "build_train_loader": "instanceformer.core.data.loader",
    "collate_clips": "instanceformer.core.data.collate",
    "data_root": "instanceformer.core.data.paths",
    "file_sha256": "instanceformer.core.data.dataset_manifest",
    "is_coco_payload": "instanceformer.core.data.coco_annotations",
    "load_coco_annotations": "instanceformer.core.data.coco_annotations",
    "manifest_path": "instanceformer.core.data.dataset_manifest",
    "mask_boxes_xyxy": "instanceformer.core.data.boxes",
    "padded_size": "instanceformer.core.data.collate",
    "parse_coco_annotations": "instanceformer.core.data.coco_annotations",
    "pseudo_frame": "instanceformer.core.data.pseudo_video",
    "read_frame": "instanceformer.core.data.frames",
    "read_manifest_entry": "instanceformer.core.data.dataset_manifest",
    "resized_size": "instanceformer.core.data.augment",
    "resolve_data_paths": "instanceformer.core.data.paths",
    "sample_clip_frames": "instanceformer.core.data.clip_sampling",
    "targets_from_masks": "instanceformer.core.data.sample",
    "validate_coco_dataset": "instanceformer.core.data.coco_annotations",
    "write_coco_annotations": "instanceformer.core.data.coco_annotations",
    "write_manifest_entry": "instanceformer.core.data.dataset_manifest",
    "xyxy_to_normalized_cxcywh": "instanceformer.core.data.boxes",
}

__all__ = [
    "MANIFEST_NAME",
    "ClassIndex",
    "ClipAugmentation",
    "ClipCollator",
    "ClipSample",
    "ClipSampler",
    "CocoAnnotation",
    "CocoImage",
    "CocoImageDataset",
    "CocoPseudoVideoDataset",
    "DataPaths",
    "EpochClipDataset",
    "JointClipDataset",
    "SampleRandom",
    "TrainLoader",
    "VideoClipDataset",
    "build_train_dataset",
    "build_train_loader",
    "collate_clips",
    "data_root",
    "file_sha256",
    "is_coco_payload",
    "load_coco_annotations",
    "manifest_path",
    "mask_boxes_xyxy",
    "padded_size",
    "parse_coco_annotations",
    "pseudo_frame",
    "read_frame",
    "read_manifest_entry",
    "resized_size",
    "resolve_data_paths",
    "sample_clip_frames",
    "targets_from_masks",
    "validate_coco_dataset",
    "write_coco_annotations",
    "write_manifest_entry",
    "xyxy_to_normalized_cxcywh",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

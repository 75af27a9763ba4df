"""Pseudo-video training clips from COCO images (COCO pretraining and joint training)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from instanceformer.core.engine.frames import read_frame
from instanceformer.core.formats import decode_segmentation, to_compressed
from instanceformer.core.formats.class_index import ClassIndex
from instanceformer.core.formats.coco import CocoImageDataset
from instanceformer.train.data.augment import ClipAugmentation
from instanceformer.train.data.clip_dataset import EpochClipDataset
from instanceformer.train.data.pseudo_video import pseudo_frame
from instanceformer.train.data.randomness import COCO_STREAM, SampleRandom
from instanceformer.train.data.sample import ClipSample, targets_from_masks


@dataclass(frozen=True)
class _ObjectRecord:
    annotation_id: int
    label: int
    iscrowd: bool
    counts: str  # compressed RLE


@dataclass(frozen=True)
class _ImageRecord:
    id: int
    file_name: str
    height: int
    width: int
    objects: tuple[_ObjectRecord, ...]


class CocoPseudoVideoDataset(EpochClipDataset):
    """One pseudo-video clip per COCO image with 1..``max_instances`` (non-crowd) kept objects.

    The clip holds the image and ``num_frames - 1`` random variants of it
    (:func:`~instanceformer.train.data.pseudo_video.pseudo_frame`) in shuffled order;
    ``frame_indices`` tells which is which (0 is the unchanged image). The whole clip is then augmented
    like a video clip.

    Args:
        coco: a loaded COCO annotation file.
        images_root: the folder the images' ``file_name`` are relative to.
        num_frames: clip length.
        augmentation: the clip augmentation.
        seed: the run's seed.
        class_index: contiguous class indices of the training categories.
        category_map: maps the file's category ids to the training categories (e.g. COCO -> OVIS);
            objects of unmapped categories are dropped. None: the file already uses the training ids.
        max_instances: images with more non-crowd objects than this are left out.
    """

    def __init__(
        self,
        coco: CocoImageDataset,
        images_root: str | Path,
        *,
        num_frames: int,
        augmentation: ClipAugmentation,
        seed: int,
        class_index: ClassIndex,
        category_map: Mapping[int, int] | None = None,
        max_instances: int = 25,
    ):
        super().__init__(seed)
        self.images_root = Path(images_root)
        self.num_frames = num_frames
        self.augmentation = augmentation
        self.class_index = class_index
        records = []
        for image in coco.images:
            objects = []
            for annotation in coco.annotations_of(image.id):
                category_id = (
                    annotation.category_id
                    if category_map is None
                    else category_map.get(annotation.category_id)
                )
                if category_id is None or category_id not in class_index:
                    continue
                counts = to_compressed(annotation.segmentation, image.height, image.width)["counts"]
                objects.append(
                    _ObjectRecord(
                        annotation.id, class_index.index(category_id), bool(annotation.iscrowd), counts
                    )
                )
            num_objects = sum(not item.iscrowd for item in objects)
            if 1 <= num_objects <= max_instances:
                records.append(
                    _ImageRecord(image.id, image.file_name, image.height, image.width, tuple(objects))
                )
        self._images = tuple(records)

    def __len__(self) -> int:
        return len(self._images)

    def sample(self, epoch: int, index: int) -> ClipSample:
        """The pseudo-video ``index`` of ``epoch``: ``[num_frames, 3, H, W]`` uint8 frames and targets."""
        random = SampleRandom(self.seed, epoch, index, COCO_STREAM)
        record = self._images[index]
        image = read_frame(self.images_root / record.file_name, (record.height, record.width))
        masks = np.zeros((len(record.objects), record.height, record.width), dtype=np.uint8)
        for slot, item in enumerate(record.objects):
            rle = {"size": [record.height, record.width], "counts": item.counts}
            masks[slot] = decode_segmentation(rle, record.height, record.width)
        original = (image, torch.from_numpy(masks))  # [3, H, W], [num_instances, H, W]
        frames = [original] + [pseudo_frame(*original, random) for _ in range(self.num_frames - 1)]
        order = random.permutation(self.num_frames)
        images = torch.stack([frames[variant][0] for variant in order])  # [num_frames, 3, H, W]
        clip_masks = torch.stack([frames[variant][1] for variant in order])  # [num_frames, N, H, W]
        images, clip_masks = self.augmentation(images, clip_masks, random)
        targets = targets_from_masks(
            clip_masks,
            labels=torch.tensor([item.label for item in record.objects], dtype=torch.int64),
            track_ids=torch.tensor([item.annotation_id for item in record.objects], dtype=torch.int64),
            iscrowd=torch.tensor([item.iscrowd for item in record.objects], dtype=torch.bool),
            video_id=record.id,
            frame_indices=order,
        )
        return ClipSample(images=images, targets=targets)

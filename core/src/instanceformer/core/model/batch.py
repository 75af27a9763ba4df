"""The in-memory contract between the data pipeline, the model and the criterion.

A training batch is a :class:`ClipBatch`: ``batch_size`` clips of ``num_frames`` frames each, padded to a
common size, with one :class:`ClipTargets` per clip. Instances are indexed per clip: instance ``n`` is
the same object in every frame of its clip, absent in the frames where ``present[t, n]`` is false.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class ClipTargets:
    """Ground truth of one clip of ``num_frames`` frames and ``num_instances`` instances.

    Attributes:
        labels: ``[num_instances]`` int64, contiguous class indices in ``[0, num_classes)``.
        boxes: ``[num_frames, num_instances, 4]`` float32, normalised (cx, cy, w, h) in [0, 1]
            relative to the unpadded image size; zeros where the instance is absent.
        masks: ``[num_frames, num_instances, height, width]`` bool at the unpadded image size.
        present: ``[num_frames, num_instances]`` bool, whether the instance is visible in the frame.
        track_ids: ``[num_instances]`` int64, the dataset's annotation ids (unique within a video).
        image_size: (height, width) of the frames before padding, in pixels.
        video_id: the dataset's video id.
        frame_indices: ``[num_frames]`` int64, the frames' indices in the source video.
        iscrowd: ``[num_instances]`` bool, crowd annotations (never matched, never penalised); None
            when the clip has no crowd annotations.
    """

    labels: torch.Tensor
    boxes: torch.Tensor
    masks: torch.Tensor
    present: torch.Tensor
    track_ids: torch.Tensor
    image_size: tuple[int, int]
    video_id: int
    frame_indices: torch.Tensor
    iscrowd: torch.Tensor | None = None

    @property
    def num_frames(self) -> int:
        return int(self.present.shape[0])

    @property
    def num_instances(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> ClipTargets:
        """The same targets with every tensor on ``device``."""
        return replace(
            self,
            labels=self.labels.to(device),
            boxes=self.boxes.to(device),
            masks=self.masks.to(device),
            present=self.present.to(device),
            track_ids=self.track_ids.to(device),
            frame_indices=self.frame_indices.to(device),
            iscrowd=None if self.iscrowd is None else self.iscrowd.to(device),
        )


@dataclass(frozen=True)
class ClipBatch:
    """A collated batch of clips.

    Attributes:
        images: ``[batch_size, num_frames, 3, height, width]`` float32, normalised with the ImageNet
            mean and standard deviation, zero in the padding.
        padding_mask: ``[batch_size, height, width]`` bool, True on padded pixels (all frames of a clip
            share one size).
        targets: one :class:`ClipTargets` per clip.
    """

    images: torch.Tensor
    padding_mask: torch.Tensor
    targets: tuple[ClipTargets, ...]

    @property
    def batch_size(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.images.shape[1])

    def to(self, device: torch.device | str) -> ClipBatch:
        """The same batch with every tensor on ``device``."""
        return ClipBatch(
            images=self.images.to(device),
            padding_mask=self.padding_mask.to(device),
            targets=tuple(target.to(device) for target in self.targets),
        )


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

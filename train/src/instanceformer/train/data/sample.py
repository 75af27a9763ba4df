"""One training sample (a clip of frames with its targets) and how its targets are built from masks."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from instanceformer.core.model.batch import ClipTargets
from instanceformer.train.data.boxes import mask_boxes_xyxy, xyxy_to_normalized_cxcywh


@dataclass(frozen=True)
class ClipSample:
    """A clip as a dataset returns it, before collation.

    Attributes:
        images: ``[num_frames, 3, height, width]`` uint8 RGB frames after augmentation.
        targets: the clip's ground truth at the same ``(height, width)``.
    """

    images: torch.Tensor
    targets: ClipTargets


def targets_from_masks(
    masks: torch.Tensor,
    labels: torch.Tensor,
    track_ids: torch.Tensor,
    iscrowd: torch.Tensor,
    video_id: int,
    frame_indices: list[int] | torch.Tensor,
) -> ClipTargets:
    """Build :class:`ClipTargets` from augmented masks, keeping instances visible in at least one frame.

    Presence is "the mask has a pixel in this frame"; boxes are the tight boxes of the masks (normalised
    ``cx, cy, w, h``), zero where absent.

    Args:
        masks: ``[num_frames, num_instances, height, width]`` masks (non-zero is foreground).
        labels: ``[num_instances]`` int64 contiguous class indices.
        track_ids: ``[num_instances]`` int64 annotation ids.
        iscrowd: ``[num_instances]`` bool crowd flags.
        video_id: the dataset's video (or image) id.
        frame_indices: ``[num_frames]`` the frames' indices in the source video.
    """
    masks = masks.as_subclass(torch.Tensor) != 0  # [num_frames, num_instances, height, width] bool
    num_frames, _, height, width = masks.shape
    present = masks.flatten(2).any(dim=2)  # [num_frames, num_instances]
    keep = present.any(dim=0)  # [num_instances]
    masks, present = masks[:, keep], present[:, keep]
    boxes = xyxy_to_normalized_cxcywh(mask_boxes_xyxy(masks), (height, width))  # [num_frames, kept, 4]
    kept_crowd = iscrowd[keep].to(torch.bool)
    return ClipTargets(
        labels=labels[keep].to(torch.int64),
        boxes=boxes,
        masks=masks,
        present=present,
        track_ids=track_ids[keep].to(torch.int64),
        image_size=(int(height), int(width)),
        video_id=int(video_id),
        frame_indices=torch.as_tensor(frame_indices, dtype=torch.int64).reshape(num_frames),
        iscrowd=kept_crowd if bool(kept_crowd.any()) else None,
    )

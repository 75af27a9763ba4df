"""Collation of clips into a :class:`~instanceformer.core.model.batch.ClipBatch`."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from instanceformer.core.model.batch import IMAGENET_MEAN, IMAGENET_STD, ClipBatch
from instanceformer.train.data.sample import ClipSample


def padded_size(height: int, width: int, size_divisibility: int) -> tuple[int, int]:
    """``(height, width)`` rounded up to multiples of ``size_divisibility``."""

    def round_up(value: int) -> int:
        return -(-value // size_divisibility) * size_divisibility

    return round_up(height), round_up(width)


def collate_clips(samples: Sequence[ClipSample], size_divisibility: int = 32) -> ClipBatch:
    """Normalise, pad and stack clips.

    Args:
        samples: clips with the same number of frames; ``images`` ``[num_frames, 3, H_i, W_i]`` uint8.
        size_divisibility: the padded height and width are multiples of it.

    Returns:
        A :class:`ClipBatch`: ``images`` ``[batch_size, num_frames, 3, H, W]`` float32 normalised with the
        ImageNet mean and std, zero in the padding; ``padding_mask`` ``[batch_size, H, W]`` True on padded
        pixels; the targets unchanged (at each clip's unpadded size).
    """
    if not samples:
        raise ValueError("expected at least one clip to collate")
    frame_counts = {sample.images.shape[0] for sample in samples}
    if len(frame_counts) != 1:
        raise ValueError(f"expected clips of one length, got lengths {sorted(frame_counts)}")
    num_frames = frame_counts.pop()
    height, width = padded_size(
        max(sample.images.shape[-2] for sample in samples),
        max(sample.images.shape[-1] for sample in samples),
        size_divisibility,
    )
    images = torch.zeros(len(samples), num_frames, 3, height, width)  # [B, T, 3, H, W]
    padding_mask = torch.ones(len(samples), height, width, dtype=torch.bool)  # [B, H, W]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0
    for position, sample in enumerate(samples):
        clip_height, clip_width = sample.images.shape[-2:]
        images[position, :, :, :clip_height, :clip_width] = (sample.images.float() - mean) / std
        padding_mask[position, :clip_height, :clip_width] = False
    return ClipBatch(
        images=images, padding_mask=padding_mask, targets=tuple(sample.targets for sample in samples)
    )


class ClipCollator:
    """A picklable ``collate_fn`` for DataLoader workers: :func:`collate_clips` with a fixed divisibility."""

    def __init__(self, size_divisibility: int):
        self.size_divisibility = size_divisibility

    def __call__(self, samples: Sequence[ClipSample]) -> ClipBatch:
        return collate_clips(samples, self.size_divisibility)

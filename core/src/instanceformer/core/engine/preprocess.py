"""Turning a decoded frame into the model's input: resize, normalise with the ImageNet statistics, pad."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from instanceformer.core.model.batch import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class PreparedFrame:
    """One frame ready for :meth:`InstanceFormer.step`.

    Attributes:
        images: ``[1, 3, padded_height, padded_width]`` float32, normalised, zero in the padding.
        padding_mask: ``[1, padded_height, padded_width]`` bool, True on padded pixels.
        resized_size: ``(height, width)`` of the resized image inside the padding, in pixels.
        original_size: ``(height, width)`` of the decoded frame, in pixels.
    """

    images: torch.Tensor
    padding_mask: torch.Tensor
    resized_size: tuple[int, int]
    original_size: tuple[int, int]

    def to(self, device: torch.device | str) -> PreparedFrame:
        """The same frame with its tensors on ``device``."""
        return PreparedFrame(
            self.images.to(device), self.padding_mask.to(device), self.resized_size, self.original_size
        )


def inference_size(height: int, width: int, min_size: int, max_size: int) -> tuple[int, int]:
    """``(height, width)`` in pixels with the short side scaled to ``min_size`` and the long side at most
    ``max_size`` (aspect ratio kept up to rounding, both sides at least 1)."""
    scale = min_size / min(height, width)
    if max(height, width) * scale > max_size:
        scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def prepare_frame(frame: torch.Tensor, min_size: int, max_size: int, size_divisibility: int) -> PreparedFrame:
    """Resize (bilinear, antialiased when shrinking), normalise and pad one frame.

    Args:
        frame: ``[3, height, width]`` uint8 RGB.
        min_size: target short side in pixels.
        max_size: cap on the long side in pixels.
        size_divisibility: the padded sides are multiples of it.
    """
    if frame.dim() != 3 or frame.shape[0] != 3 or frame.dtype != torch.uint8:
        raise ValueError(f"expected a [3, height, width] uint8 frame, got {frame.dtype} {list(frame.shape)}")
    height, width = int(frame.shape[1]), int(frame.shape[2])
    resized_height, resized_width = inference_size(height, width, min_size, max_size)
    pixels = frame[None].float()  # [1, 3, H, W]
    if (resized_height, resized_width) != (height, width):
        shrinking = resized_height < height
        pixels = F.interpolate(
            pixels,
            size=(resized_height, resized_width),
            mode="bilinear",
            align_corners=False,
            antialias=shrinking,
        )
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0
    padded_height = -(-resized_height // size_divisibility) * size_divisibility
    padded_width = -(-resized_width // size_divisibility) * size_divisibility
    images = torch.zeros(1, 3, padded_height, padded_width)
    images[:, :, :resized_height, :resized_width] = (pixels - mean) / std
    padding_mask = torch.ones(1, padded_height, padded_width, dtype=torch.bool)
    padding_mask[:, :resized_height, :resized_width] = False
    return PreparedFrame(images, padding_mask, (resized_height, resized_width), (height, width))

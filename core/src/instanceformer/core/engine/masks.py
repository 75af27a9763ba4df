"""Mask logits at the model's stride back to binary masks of the original frame."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def masks_at_original_size(
    mask_logits: torch.Tensor,
    mask_stride: int,
    resized_size: tuple[int, int],
    original_size: tuple[int, int],
    threshold: float,
) -> torch.Tensor:
    """Upsample mask logits bilinearly to the original frame and threshold the probabilities.

    Args:
        mask_logits: ``[num_masks, height, width]`` logits at ``mask_stride`` of the padded input.
        mask_stride: pixels of the padded input per mask cell (4 by default).
        resized_size: ``(height, width)`` of the image inside the padded input, in pixels.
        original_size: ``(height, width)`` of the decoded frame, in pixels.
        threshold: probability in (0, 1) above which a pixel belongs to the mask.

    Returns:
        ``[num_masks, original_height, original_width]`` bool.
    """
    num_masks = mask_logits.shape[0]
    if num_masks == 0:
        return torch.zeros(0, *original_size, dtype=torch.bool, device=mask_logits.device)
    padded = F.interpolate(
        mask_logits[None].float(),
        scale_factor=mask_stride,
        mode="bilinear",
        align_corners=False,
    )  # [1, N, padded_height, padded_width]
    cropped = padded[:, :, : resized_size[0], : resized_size[1]]
    full = F.interpolate(cropped, size=original_size, mode="bilinear", align_corners=False)[0]  # [N, H, W]
    return full > math.log(threshold / (1.0 - threshold))

"""Boxes of instance masks."""

from __future__ import annotations

import torch


def mask_boxes_xyxy(masks: torch.Tensor) -> torch.Tensor:
    """Tight boxes of masks in pixels, COCO convention (end exclusive).

    Args:
        masks: ``[..., height, width]`` bool or integer masks (non-zero is foreground).

    Returns:
        ``[..., 4]`` float32 ``(x0, y0, x1, y1)``: ``x0, y0`` the first foreground column and row, ``x1, y1``
        one past the last; all zeros for an empty mask.
    """
    foreground = masks != 0
    height, width = foreground.shape[-2:]
    columns = foreground.any(dim=-2)  # [..., width]
    rows = foreground.any(dim=-1)  # [..., height]
    present = columns.any(dim=-1)  # [...]
    x0 = columns.to(torch.uint8).argmax(dim=-1)  # first True column
    x1 = width - columns.flip(-1).to(torch.uint8).argmax(dim=-1)  # one past the last True column
    y0 = rows.to(torch.uint8).argmax(dim=-1)
    y1 = height - rows.flip(-1).to(torch.uint8).argmax(dim=-1)
    boxes = torch.stack((x0, y0, x1, y1), dim=-1).to(torch.float32)  # [..., 4]
    return boxes * present.unsqueeze(-1)


def xyxy_to_normalized_cxcywh(boxes: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """Pixel boxes ``[..., 4]`` (x0, y0, x1, y1) as ``(cx, cy, w, h)`` relative to ``image_size`` (h, w)."""
    height, width = image_size
    x0, y0, x1, y1 = boxes.unbind(-1)
    scale = boxes.new_tensor([width, height, width, height])
    return torch.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), dim=-1) / scale

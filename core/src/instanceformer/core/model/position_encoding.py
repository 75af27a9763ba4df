"""Sine position encodings: 2-D for feature maps, 1-D for the frame of memory tokens."""

from __future__ import annotations

import math

import torch

TEMPERATURE = 10000.0


def _sine_features(coordinates: torch.Tensor, num_features: int) -> torch.Tensor:
    """Sine/cosine features of scalar coordinates.

    Args:
        coordinates: ``[...]`` float, any units (the caller scales them).
        num_features: even number of output features.

    Returns:
        ``[..., num_features]``: feature ``2i`` is ``sin(c / T^(2i/F))`` and ``2i+1`` is
        ``cos(c / T^(2i/F))`` with ``T`` = 10000 and ``F`` = ``num_features``.
    """
    if num_features % 2:
        raise ValueError(f"num_features must be even, got {num_features}")
    exponents = torch.arange(num_features // 2, dtype=torch.float32, device=coordinates.device)
    frequencies = TEMPERATURE ** (2.0 * exponents / num_features)  # [F/2]
    angles = coordinates.float()[..., None] / frequencies  # [..., F/2]
    return torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2)  # [..., F]


def sine_position_encoding(padding_mask: torch.Tensor, num_features: int) -> torch.Tensor:
    """The normalised 2-D sine encoding of a padded feature map.

    Each valid pixel's row and column are counted from the top-left corner of the valid region, centred
    (``index + 0.5``), divided by the valid height/width and scaled to ``[0, 2π]``; padded pixels continue
    the count. Half of the channels encode the row, half the column.

    Args:
        padding_mask: ``[batch_size, height, width]`` bool, True on padded pixels.
        num_features: channels per axis (``d_model / 2``).

    Returns:
        ``[batch_size, 2 * num_features, height, width]`` float32: row features, then column features.
    """
    valid = (~padding_mask).float()  # [B, H, W]
    rows = valid.cumsum(dim=1)  # [B, H, W]
    columns = valid.cumsum(dim=2)  # [B, H, W]
    epsilon = 1e-6
    scale = 2.0 * math.pi
    rows = (rows - 0.5) / (rows[:, -1:, :] + epsilon) * scale
    columns = (columns - 0.5) / (columns[:, :, -1:] + epsilon) * scale
    encoding = torch.cat((_sine_features(rows, num_features), _sine_features(columns, num_features)), dim=-1)
    return encoding.permute(0, 3, 1, 2).contiguous()  # [B, 2F, H, W]


def frame_offset_encoding(frame_offsets: torch.Tensor, num_features: int) -> torch.Tensor:
    """The 1-D sine encoding of how many frames ago a memory token was written.

    Args:
        frame_offsets: ``[...]`` integer or float frame offsets (1 = the previous frame).
        num_features: even number of output features (``d_model``).

    Returns:
        ``[..., num_features]`` float32; the encoding depends only on the offset, not on the queue length.
    """
    return _sine_features(frame_offsets, num_features)


def queue_slot_encoding(
    num_frames: int, num_features: int, device: torch.device | None = None
) -> torch.Tensor:
    """The published encoding of a memory queue's frame slots: :func:`sine_position_encoding` of a
    ``num_frames x 1`` map, so slot ``i`` (0 = the oldest frame kept) has the row coordinate
    ``(i + 0.5) / num_frames * 2π``; it depends on the queue length.

    Args:
        num_frames: frames the queue keeps.
        num_features: channels per axis (``d_model / 2``).

    Returns:
        ``[num_frames, 2 * num_features]`` float32: row features, then the (constant) column features.
    """
    padding_mask = torch.zeros(1, num_frames, 1, dtype=torch.bool, device=device)
    return sine_position_encoding(padding_mask, num_features)[0, :, :, 0].transpose(0, 1)

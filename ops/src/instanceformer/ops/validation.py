"""Shape, dtype and device checks of the multi-scale deformable attention inputs."""

from __future__ import annotations

import torch


def _shape(tensor: torch.Tensor) -> list[int]:
    return list(tensor.shape)


def check_attention_arguments(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> None:
    """Raises ValueError (one line naming the argument and the expected shape) for inconsistent inputs.

    Expected: value ``[N, S, M, D]``; spatial_shapes ``[L, 2]`` int64; level_start_index ``[L]`` int64;
    sampling_locations ``[N, Q, M, L, P, 2]`` and attention_weights ``[N, Q, M, L, P]`` with value's
    dtype; all on value's device. Reads no tensor data.
    """
    if value.dim() != 4:
        raise ValueError(f"ms_deform_attn: value must have shape [N, S, M, D], got {_shape(value)}")
    batch, _, num_heads, _ = value.shape
    if spatial_shapes.dim() != 2 or spatial_shapes.shape[1] != 2:
        raise ValueError(
            f"ms_deform_attn: spatial_shapes must have shape [L, 2], got {_shape(spatial_shapes)}"
        )
    num_levels = spatial_shapes.shape[0]
    if level_start_index.dim() != 1 or level_start_index.shape[0] != num_levels:
        raise ValueError(
            f"ms_deform_attn: level_start_index must have shape [L] = [{num_levels}], "
            f"got {_shape(level_start_index)}"
        )
    if (
        sampling_locations.dim() != 6
        or sampling_locations.shape[0] != batch
        or sampling_locations.shape[2] != num_heads
        or sampling_locations.shape[3] != num_levels
        or sampling_locations.shape[5] != 2
    ):
        raise ValueError(
            f"ms_deform_attn: sampling_locations must have shape [N, Q, M, L, P, 2] with N = {batch}, "
            f"M = {num_heads}, L = {num_levels}, got {_shape(sampling_locations)}"
        )
    expected_weights = [*_shape(sampling_locations)[:5]]
    if _shape(attention_weights) != expected_weights:
        raise ValueError(
            f"ms_deform_attn: attention_weights must have shape [N, Q, M, L, P] = {expected_weights}, "
            f"got {_shape(attention_weights)}"
        )
    if spatial_shapes.dtype != torch.int64 or level_start_index.dtype != torch.int64:
        raise ValueError(
            "ms_deform_attn: spatial_shapes and level_start_index must be int64, "
            f"got {spatial_shapes.dtype} and {level_start_index.dtype}"
        )
    if sampling_locations.dtype != value.dtype or attention_weights.dtype != value.dtype:
        raise ValueError(
            "ms_deform_attn: value, sampling_locations and attention_weights must share one dtype, "
            f"got {value.dtype}, {sampling_locations.dtype} and {attention_weights.dtype}"
        )
    devices = {
        "spatial_shapes": spatial_shapes.device,
        "level_start_index": level_start_index.device,
        "sampling_locations": sampling_locations.device,
        "attention_weights": attention_weights.device,
    }
    misplaced = [f"{name} on {device}" for name, device in devices.items() if device != value.device]
    if misplaced:
        raise ValueError(
            f"ms_deform_attn: all inputs must be on the device of value ({value.device}), got "
            + ", ".join(misplaced)
        )

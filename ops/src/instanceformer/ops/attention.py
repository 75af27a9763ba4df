"""Multi-scale deformable attention: the compiled kernel where one is loaded, else the reference."""

from __future__ import annotations

import warnings

import torch

from instanceformer.ops._extensions import kernel_available, kernel_unavailable_reason
from instanceformer.ops.reference import ms_deform_attn_reference
from instanceformer.ops.validation import check_attention_arguments


class ReferenceFallbackWarning(UserWarning):
    """No compiled kernel serves a device type; the (much slower) PyTorch reference runs instead."""


_warned_device_types: set[str] = set()


def _warn_fallback_once(device_type: str) -> None:
    if device_type in _warned_device_types:
        return
    _warned_device_types.add(device_type)
    warnings.warn(
        f"instanceformer.ops: no compiled ms_deform_attn kernel for '{device_type}' "
        f"({kernel_unavailable_reason(device_type)}); using the PyTorch reference, which is much slower",
        ReferenceFallbackWarning,
        stacklevel=3,
    )


def ms_deform_attn(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """Multi-scale deformable attention (Deformable DETR), differentiable in value, locations and weights.

    Args:
        value: ``[N, S, M, D]`` values of all levels, level ``l`` occupying rows
            ``level_start_index[l] : level_start_index[l] + H_l * W_l`` in row-major (y, x) order.
        spatial_shapes: ``[L, 2]`` int64, the (height, width) of each level in pixels.
        level_start_index: ``[L]`` int64, the first row of each level in ``value``.
        sampling_locations: ``[N, Q, M, L, P, 2]`` normalised (x, y) in [0, 1]; pixel centres sit at
            ``(i + 0.5) / size`` (``grid_sample`` with ``align_corners=False``); samples read zero
            outside a level.
        attention_weights: ``[N, Q, M, L, P]``, the weight of each sample.

    Returns:
        ``[N, Q, M * D]``, the weighted sums of the bilinear samples, heads concatenated.

    Runs the compiled kernel of ``instanceformer::ms_deform_attn`` for the inputs' device type (CPU:
    float32/float64; CUDA: float32/float64/float16/bfloat16). Without one it warns once per device type
    (:class:`ReferenceFallbackWarning`) and computes :func:`ms_deform_attn_reference`. Inside a
    ``torch.autocast`` region of the inputs' device type the inputs are cast to float32 and the output
    is float32.
    """
    device_type = value.device.type
    if torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type):
        # Mixed-precision regions run the op in float32: the sampling locations need the precision, and
        # the layers around it hand over mixed dtypes.
        value, sampling_locations, attention_weights = (
            tensor.float() for tensor in (value, sampling_locations, attention_weights)
        )
    check_attention_arguments(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    if kernel_available(device_type):
        return torch.ops.instanceformer.ms_deform_attn(
            value, spatial_shapes, level_start_index, sampling_locations, attention_weights
        )
    _warn_fallback_once(device_type)
    return ms_deform_attn_reference(
        value, spatial_shapes, level_start_index, sampling_locations, attention_weights
    )

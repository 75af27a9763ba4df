"""Reference multi-scale deformable attention in plain PyTorch: the specification of the kernels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from instanceformer.ops.validation import check_attention_arguments


def ms_deform_attn_reference(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """Multi-scale deformable attention computed with ``grid_sample``; differentiable, any device.

    Args:
        value: ``[N, S, M, D]`` values of all levels, level ``l`` occupying rows
            ``level_start_index[l] : level_start_index[l] + H_l * W_l`` in row-major (y, x) order.
        spatial_shapes: ``[L, 2]`` int64, the (height, width) of each level in pixels.
        level_start_index: ``[L]`` int64, the first row of each level in ``value``.
        sampling_locations: ``[N, Q, M, L, P, 2]`` normalised (x, y); (0, 0) is the top-left corner
            of a level and (1, 1) its bottom-right corner, pixel centres sit at ``(i + 0.5) / size``.
        attention_weights: ``[N, Q, M, L, P]``, the weight of each sample.

    Returns:
        ``[N, Q, M * D]``: for each query and head, the attention-weighted sum over levels and points
        of the bilinearly sampled values (zero outside a level), heads concatenated.
    """
    check_attention_arguments(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    batch, _, num_heads, head_channels = value.shape
    num_queries, num_levels, num_points = (
        sampling_locations.shape[1],
        sampling_locations.shape[3],
        sampling_locations.shape[4],
    )
    # grid_sample takes coordinates in [-1, 1]: [N, Q, M, L, P, 2].
    grids = 2 * sampling_locations - 1
    sampled_levels = []
    for level, ((height, width), start) in enumerate(
        zip(spatial_shapes.tolist(), level_start_index.tolist(), strict=True)
    ):
        if height * width == 0:
            sampled_levels.append(value.new_zeros(batch * num_heads, head_channels, num_queries, num_points))
            continue
        # [N, H*W, M, D] -> [N*M, D, H, W]
        level_value = value[:, start : start + height * width]
        level_value = level_value.permute(0, 2, 3, 1).reshape(batch * num_heads, head_channels, height, width)
        # [N, Q, M, P, 2] -> [N*M, Q, P, 2]
        level_grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        # [N*M, D, Q, P]
        sampled = F.grid_sample(
            level_value, level_grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        sampled_levels.append(sampled)
    if not sampled_levels:
        return value.new_zeros(batch, num_queries, num_heads * head_channels)
    # [N*M, D, Q, L, P]
    stacked = torch.stack(sampled_levels, dim=-2)
    # [N, Q, M, L, P] -> [N*M, 1, Q, L, P]
    weights = attention_weights.transpose(1, 2).reshape(
        batch * num_heads, 1, num_queries, num_levels, num_points
    )
    # [N*M, D, Q] -> [N, M*D, Q] -> [N, Q, M*D]
    attended = (stacked * weights).sum(dim=(-2, -1))
    return attended.view(batch, num_heads * head_channels, num_queries).transpose(1, 2).contiguous()

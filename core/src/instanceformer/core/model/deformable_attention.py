"""The multi-scale deformable attention layer (learned offsets and weights around reference points)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SampledAttention:
    """The output of one deformable attention call.

    Attributes:
        output: ``[batch_size, num_queries, d_model]``.
        sampling_locations: ``[batch_size, num_queries, num_heads, num_levels, num_points, 2]`` (x, y) in
            [0, 1] of the padded feature maps.
        attention_weights: ``[batch_size, num_queries, num_heads, num_levels, num_points]``, summing to 1
            over levels and points.
    """

    output: torch.Tensor
    sampling_locations: torch.Tensor
    attention_weights: torch.Tensor


def _sampling_kernel():
    from instanceformer.ops import ms_deform_attn

    return ms_deform_attn


class MultiScaleDeformableAttention(nn.Module):
    """Each query attends to ``num_points`` sampled locations per head and feature level.

    Offsets and weights are linear functions of the query; the sampling itself is
    :func:`instanceformer.ops.ms_deform_attn`.
    """

    def __init__(self, d_model: int, num_levels: int, num_heads: int, num_points: int):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.d_model = d_model
        self.num_levels = num_levels
        self.num_heads = num_heads
        self.num_points = num_points
        self.sampling_offsets = nn.Linear(d_model, num_heads * num_levels * num_points * 2)
        self.attention_weights = nn.Linear(d_model, num_heads * num_levels * num_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Offsets start on a ring of directions (one per head) at growing distances per point."""
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.num_heads, dtype=torch.float32) * (2.0 * math.pi / self.num_heads)
        directions = torch.stack((angles.cos(), angles.sin()), dim=-1)  # [M, 2]
        directions = directions / directions.abs().max(dim=-1, keepdim=True).values
        grid = directions[:, None, None, :].repeat(1, self.num_levels, self.num_points, 1)  # [M, L, P, 2]
        grid = grid * torch.arange(1, self.num_points + 1, dtype=torch.float32)[None, None, :, None]
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        reference_points: torch.Tensor,
        value_input: torch.Tensor,
        spatial_shapes: torch.Tensor,
        level_start_index: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> SampledAttention:
        """Attend from each query to points around its reference.

        Args:
            query: ``[batch_size, num_queries, d_model]`` (content + position).
            reference_points: ``[batch_size, num_queries, num_levels, 2]`` points (x, y) or
                ``[batch_size, num_queries, num_levels, 4]`` boxes (cx, cy, w, h), normalised to the padded
                maps of each level; with boxes the offsets are scaled by half the box size.
            value_input: ``[batch_size, num_values, d_model]`` flattened multi-scale features.
            spatial_shapes: ``[num_levels, 2]`` int64 (height, width) of each level.
            level_start_index: ``[num_levels]`` int64 offset of each level in ``value_input``.
            padding_mask: ``[batch_size, num_values]`` bool, True on padded positions (values zeroed).
        """
        batch_size, num_queries, _ = query.shape
        num_values = value_input.shape[1]
        heads, levels, points = self.num_heads, self.num_levels, self.num_points
        value = self.value_proj(value_input)  # [B, S, D]
        if padding_mask is not None:
            value = value.masked_fill(padding_mask[..., None], 0.0)
        value = value.view(batch_size, num_values, heads, self.d_model // heads)  # [B, S, M, D/M]
        offsets = self.sampling_offsets(query).view(batch_size, num_queries, heads, levels, points, 2)
        weights = self.attention_weights(query).view(batch_size, num_queries, heads, levels * points)
        weights = weights.softmax(dim=-1).view(batch_size, num_queries, heads, levels, points)
        if reference_points.shape[-1] == 2:
            # offsets are in pixels of each level: normalise by (width, height)
            normaliser = torch.stack((spatial_shapes[:, 1], spatial_shapes[:, 0]), dim=-1).to(query.dtype)
            locations = (
                reference_points[:, :, None, :, None, :] + offsets / normaliser[None, None, None, :, None, :]
            )  # [B, Q, M, L, P, 2]
        elif reference_points.shape[-1] == 4:
            centres = reference_points[:, :, None, :, None, :2]
            half_sizes = reference_points[:, :, None, :, None, 2:] * 0.5
            locations = centres + offsets / points * half_sizes  # [B, Q, M, L, P, 2]
        else:
            raise ValueError(f"reference_points must end in 2 or 4 values, got {reference_points.shape[-1]}")
        sampled = _sampling_kernel()(
            value, spatial_shapes, level_start_index, locations, weights
        )  # [B, Q, D]
        return SampledAttention(self.output_proj(sampled), locations, weights)

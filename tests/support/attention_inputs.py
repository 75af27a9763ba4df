"""Inputs of multi-scale deformable attention for tests (random, packed pyramids, border cases) and the
gradients of a call on them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch


class AttentionInputs(NamedTuple):
    """The five operator inputs, in call order."""

    value: torch.Tensor  # [N, S, M, D]
    spatial_shapes: torch.Tensor  # [L, 2] int64
    level_start_index: torch.Tensor  # [L] int64
    sampling_locations: torch.Tensor  # [N, Q, M, L, P, 2]
    attention_weights: torch.Tensor  # [N, Q, M, L, P]

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> AttentionInputs:
        """The inputs on ``device``; the floating-point ones cast to ``dtype`` when given."""
        floating = {"dtype": dtype} if dtype is not None else {}
        return AttentionInputs(
            self.value.to(device=device, **floating),
            self.spatial_shapes.to(device),
            self.level_start_index.to(device),
            self.sampling_locations.to(device=device, **floating),
            self.attention_weights.to(device=device, **floating),
        )

    def requiring_grad(self) -> AttentionInputs:
        """Leaf copies of the inputs with value, locations and weights requiring grad."""
        return AttentionInputs(
            self.value.detach().clone().requires_grad_(),
            self.spatial_shapes,
            self.level_start_index,
            self.sampling_locations.detach().clone().requires_grad_(),
            self.attention_weights.detach().clone().requires_grad_(),
        )


def packed_levels(levels: Sequence[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor, int]:
    """spatial_shapes [L, 2], level_start_index [L] and S for levels stored one after another."""
    spatial_shapes = torch.tensor(levels, dtype=torch.int64).view(-1, 2)
    areas = spatial_shapes.prod(dim=1)
    level_start_index = torch.cat([areas.new_zeros(1), areas.cumsum(0)[:-1]])
    return spatial_shapes, level_start_index, int(areas.sum())


def random_inputs(
    levels: Sequence[tuple[int, int]],
    *,
    batch: int = 2,
    num_queries: int = 5,
    num_heads: int = 3,
    head_channels: int = 5,
    num_points: int = 2,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    location_low: float = -0.2,
    location_high: float = 1.2,
) -> AttentionInputs:
    """Random inputs on the CPU; locations uniform in [location_low, location_high] (some outside [0, 1])."""
    generator = torch.Generator().manual_seed(seed)
    spatial_shapes, level_start_index, num_values = packed_levels(levels)
    num_levels = len(levels)
    value = torch.randn(batch, num_values, num_heads, head_channels, generator=generator, dtype=dtype)
    locations = torch.rand(
        batch, num_queries, num_heads, num_levels, num_points, 2, generator=generator, dtype=dtype
    )
    locations = location_low + (location_high - location_low) * locations
    weights = torch.rand(
        batch, num_queries, num_heads, num_levels, num_points, generator=generator, dtype=dtype
    )
    return AttentionInputs(value, spatial_shapes, level_start_index, locations, weights)


def border_locations(width: int, height: int) -> torch.Tensor:
    """Dyadic (x, y) locations on and around the borders of a ``height x width`` level: ``[K, 2]``.

    With power-of-two sizes they map to pixel coordinates that every implementation computes exactly:
    the level's corners and edges, pixel centres and cell edges, one pixel outside (the last position
    that still touches the level) and farther outside.
    """
    along_x = [
        0.0,
        1.0,
        0.5,
        0.5 / width,
        1.0 / width,
        1.0 - 0.5 / width,
        -0.5 / width,
        1.0 + 0.5 / width,
        -0.75,
        1.5,
    ]
    along_y = [0.0, 1.0, 0.5, 0.5 / height, 1.0 / height, -0.5 / height, 1.0 + 0.5 / height, 2.0]
    grid_x, grid_y = torch.meshgrid(torch.tensor(along_x), torch.tensor(along_y), indexing="ij")
    return torch.stack([grid_x.flatten(), grid_y.flatten()], dim=-1).to(torch.float64)


def border_inputs(
    levels: Sequence[tuple[int, int]], *, head_channels: int = 5, seed: int = 0
) -> AttentionInputs:
    """float64 inputs that sample every level at its :func:`border_locations`.

    Batch 2, 2 heads, one point per level; query ``q`` samples location ``q`` of every level's list (as
    many queries as the shortest list has locations). Value and weights are random, drawn with ``seed``.
    """
    spatial_shapes, level_start_index, num_values = packed_levels(levels)
    per_level = [border_locations(width, height) for height, width in levels]
    num_queries = min(len(points) for points in per_level)
    locations = torch.stack([points[:num_queries] for points in per_level], dim=1)  # [Q, L, 2]
    locations = locations.view(1, num_queries, 1, len(levels), 1, 2).expand(2, -1, 2, -1, -1, -1).contiguous()
    generator = torch.Generator().manual_seed(seed)
    return AttentionInputs(
        torch.randn(2, num_values, 2, head_channels, generator=generator, dtype=torch.float64),
        spatial_shapes,
        level_start_index,
        locations,
        torch.rand(2, num_queries, 2, len(levels), 1, generator=generator, dtype=torch.float64),
    )


def gradients(
    function: Callable[..., torch.Tensor], inputs: AttentionInputs, grad_output: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Gradients of <function(inputs), grad_output> for value, sampling_locations and attention_weights."""
    leaves = inputs.requiring_grad()
    output = function(*leaves)
    return torch.autograd.grad(
        output, (leaves.value, leaves.sampling_locations, leaves.attention_weights), grad_output
    )

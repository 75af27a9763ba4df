"""From backbone maps to the flattened multi-scale tokens the transformer reads."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from instanceformer.core.model.position_encoding import sine_position_encoding

GROUP_NORM_GROUPS = 32


def group_norm(num_channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups, or the largest divisor of 32 that divides ``num_channels``."""
    return nn.GroupNorm(math.gcd(GROUP_NORM_GROUPS, num_channels), num_channels)


@dataclass(frozen=True)
class MultiScaleFeatures:
    """Projected feature levels, flattened and concatenated (finest level first).

    Attributes:
        tokens: ``[batch_size, num_tokens, d_model]``, ``num_tokens`` = sum of ``height * width``.
        positions: ``[batch_size, num_tokens, d_model]`` sine encoding + learned level embedding.
        padding_mask: ``[batch_size, num_tokens]`` bool, True on padded positions.
        spatial_shapes: ``[num_levels, 2]`` int64 (height, width).
        level_start_index: ``[num_levels]`` int64.
        valid_ratios: ``[batch_size, num_levels, 2]`` (width, height) fraction of each map that is image.
        level_shapes: the (height, width) of each level as Python ints (``spatial_shapes`` without a
            device round trip, so compiled code needs no data-dependent values).
    """

    tokens: torch.Tensor
    positions: torch.Tensor
    padding_mask: torch.Tensor
    spatial_shapes: torch.Tensor
    level_start_index: torch.Tensor
    valid_ratios: torch.Tensor
    level_shapes: tuple[tuple[int, int], ...]

    def repeat_batch(self, repeats: int) -> MultiScaleFeatures:
        """The same levels with every sample repeated ``repeats`` times in a row (``repeat_interleave``)."""
        if repeats == 1:
            return self
        return MultiScaleFeatures(
            tokens=self.tokens.repeat_interleave(repeats, dim=0),
            positions=self.positions.repeat_interleave(repeats, dim=0),
            padding_mask=self.padding_mask.repeat_interleave(repeats, dim=0),
            spatial_shapes=self.spatial_shapes,
            level_start_index=self.level_start_index,
            valid_ratios=self.valid_ratios.repeat_interleave(repeats, dim=0),
            level_shapes=self.level_shapes,
        )

    def split_levels(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """Unflatten ``[batch_size, num_tokens, channels]`` into per-level
        ``[batch_size, channels, height, width]`` maps."""
        maps = []
        start = 0
        for height, width in self.level_shapes:
            level = tokens[:, start : start + height * width]  # [B, H*W, C]
            maps.append(level.transpose(1, 2).reshape(tokens.shape[0], -1, height, width))
            start += height * width
        return maps


def valid_ratios(padding_mask: torch.Tensor) -> torch.Tensor:
    """``[batch_size, height, width]`` padding mask -> ``[batch_size, 2]`` valid (width, height) fractions.

    Padding is at the right and bottom, so the first row and column count the valid extent.
    """
    _, height, width = padding_mask.shape
    valid_height = (~padding_mask[:, :, 0]).sum(dim=1).float() / height
    valid_width = (~padding_mask[:, 0, :]).sum(dim=1).float() / width
    return torch.stack((valid_width, valid_height), dim=-1)


def unpadded_image_sizes(padding_mask: torch.Tensor) -> torch.Tensor:
    """``[batch_size, height, width]`` padding mask -> ``[batch_size, 2]`` (width, height) of the unpadded
    image in pixels (the valid fractions of :func:`valid_ratios` times the padded size)."""
    _, height, width = padding_mask.shape
    ratios = valid_ratios(padding_mask)
    return ratios * torch.tensor([width, height], dtype=ratios.dtype, device=ratios.device)


class InputProjections(nn.Module):
    """Project each backbone level to ``d_model`` (1x1 conv + GroupNorm); add extra coarser levels by
    3x3 stride-2 convolutions (the first on the last backbone map, the next on the previous extra level)."""

    def __init__(self, backbone_channels: list[int], d_model: int, num_levels: int):
        super().__init__()
        projections = [
            nn.Sequential(nn.Conv2d(channels, d_model, kernel_size=1), group_norm(d_model))
            for channels in backbone_channels
        ]
        in_channels = backbone_channels[-1]
        for _ in range(num_levels - len(backbone_channels)):
            projections.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, d_model, kernel_size=3, stride=2, padding=1), group_norm(d_model)
                )
            )
            in_channels = d_model
        self.levels = nn.ModuleList(projections)
        self.num_backbone_levels = len(backbone_channels)
        self.level_embedding = nn.Parameter(torch.empty(num_levels, d_model))
        self.d_model = d_model
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier projections with zero bias; normal level embeddings."""
        for projection in self.levels:
            assert isinstance(projection, nn.Sequential)
            conv = projection[0]
            assert isinstance(conv, nn.Conv2d) and conv.bias is not None
            nn.init.xavier_uniform_(conv.weight, gain=1.0)
            nn.init.zeros_(conv.bias)
        nn.init.normal_(self.level_embedding)

    def forward(self, backbone_maps: list[torch.Tensor], padding_mask: torch.Tensor) -> MultiScaleFeatures:
        """Project, encode positions and flatten.

        Args:
            backbone_maps: ``[batch_size, channels_l, height_l, width_l]`` per backbone level, finest first.
            padding_mask: ``[batch_size, height, width]`` bool at the input resolution.
        """
        maps = [
            projection(feature)
            for projection, feature in zip(
                self.levels[: self.num_backbone_levels], backbone_maps, strict=True
            )
        ]
        previous = backbone_maps[-1]
        for projection in self.levels[self.num_backbone_levels :]:
            previous = projection(previous)
            maps.append(previous)
        tokens, positions, masks, shapes, ratios = [], [], [], [], []
        for level, feature in enumerate(maps):
            _, channels, height, width = feature.shape
            mask = F.interpolate(padding_mask[None].float(), size=(height, width))[0].bool()  # [B, H, W]
            position = sine_position_encoding(mask, channels // 2).to(feature.dtype)  # [B, C, H, W]
            tokens.append(feature.flatten(2).transpose(1, 2))  # [B, H*W, C]
            positions.append(position.flatten(2).transpose(1, 2) + self.level_embedding[level])
            masks.append(mask.flatten(1))  # [B, H*W]
            shapes.append((height, width))
            ratios.append(valid_ratios(mask))
        spatial_shapes = torch.as_tensor(shapes, dtype=torch.long, device=padding_mask.device)  # [L, 2]
        sizes = spatial_shapes.prod(dim=1)
        level_start_index = torch.cat((sizes.new_zeros(1), sizes.cumsum(0)[:-1]))  # [L]
        return MultiScaleFeatures(
            tokens=torch.cat(tokens, dim=1),
            positions=torch.cat(positions, dim=1),
            padding_mask=torch.cat(masks, dim=1),
            spatial_shapes=spatial_shapes,
            level_start_index=level_start_index,
            valid_ratios=torch.stack(ratios, dim=1),  # [B, L, 2]
            level_shapes=tuple(shapes),
        )

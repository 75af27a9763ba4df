"""The deformable encoder: multi-scale self-attention over the flattened feature maps."""

from __future__ import annotations

import torch
from torch import nn

from instanceformer.core.model.deformable_attention import MultiScaleDeformableAttention
from instanceformer.core.model.feedforward import FeedForward
from instanceformer.core.model.multiscale import MultiScaleFeatures


class DeformableEncoderLayer(nn.Module):
    """Deformable self-attention -> add & norm -> feed-forward -> add & norm (post-norm)."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        num_levels: int,
        num_points: int,
        dim_feedforward: int,
        dropout: float,
        activation: str,
    ):
        super().__init__()
        self.attention = MultiScaleDeformableAttention(d_model, num_levels, num_heads, num_points)
        self.attention_dropout = nn.Dropout(dropout)
        self.attention_norm = nn.LayerNorm(d_model)
        self.feedforward = FeedForward(d_model, dim_feedforward, dropout, activation)
        self.feedforward_dropout = nn.Dropout(dropout)
        self.feedforward_norm = nn.LayerNorm(d_model)

    def forward(
        self, tokens: torch.Tensor, features: MultiScaleFeatures, reference_points: torch.Tensor
    ) -> torch.Tensor:
        """One layer: ``tokens [batch_size, num_tokens, d_model]`` with references
        ``[batch_size, num_tokens, num_levels, 2]`` -> ``[batch_size, num_tokens, d_model]``."""
        attended = self.attention(
            tokens + features.positions,
            reference_points,
            tokens,
            features.spatial_shapes,
            features.level_start_index,
            features.padding_mask,
        ).output
        tokens = self.attention_norm(tokens + self.attention_dropout(attended))
        return self.feedforward_norm(tokens + self.feedforward_dropout(self.feedforward(tokens)))


def encoder_reference_points(features: MultiScaleFeatures) -> torch.Tensor:
    """The centre of every token, as seen from every level.

    Returns:
        ``[batch_size, num_tokens, num_levels, 2]`` (x, y) normalised to the padded maps of each level:
        a token's centre in its own level's valid region, rescaled by each level's valid ratio.
    """
    device = features.tokens.device
    per_level = []
    for level, (height, width) in enumerate(features.level_shapes):
        rows, columns = torch.meshgrid(
            torch.arange(height, dtype=torch.float32, device=device) + 0.5,
            torch.arange(width, dtype=torch.float32, device=device) + 0.5,
            indexing="ij",
        )
        ratios = features.valid_ratios[:, level]  # [B, 2] (w, h)
        x = columns.reshape(1, -1) / (ratios[:, None, 0] * width)  # [B, H*W]
        y = rows.reshape(1, -1) / (ratios[:, None, 1] * height)  # [B, H*W]
        per_level.append(torch.stack((x, y), dim=-1))  # [B, H*W, 2]
    centres = torch.cat(per_level, dim=1)  # [B, S, 2] normalised to the valid region
    return centres[:, :, None, :] * features.valid_ratios[:, None, :, :]  # [B, S, L, 2]


class DeformableEncoder(nn.Module):
    """A stack of :class:`DeformableEncoderLayer`."""

    def __init__(self, layers: list[DeformableEncoderLayer]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, features: MultiScaleFeatures) -> torch.Tensor:
        """The encoder memory ``[batch_size, num_tokens, d_model]`` of the flattened features."""
        reference_points = encoder_reference_points(features)
        tokens = features.tokens
        for layer in self.layers:
            tokens = layer(tokens, features, reference_points)
        return tokens

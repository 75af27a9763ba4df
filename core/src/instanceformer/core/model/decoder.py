"""The deformable decoder with memory cross-attention and iterative box refinement."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from instanceformer.core.model.deformable_attention import MultiScaleDeformableAttention
from instanceformer.core.model.feedforward import MLP, FeedForward, inverse_sigmoid
from instanceformer.core.model.multiscale import MultiScaleFeatures
from instanceformer.core.model.temporal.memory import MemoryReadout


@dataclass(frozen=True)
class DecoderLayerOutput:
    """What one decoder layer produced.

    Attributes:
        hidden: ``[batch_size, num_queries, d_model]`` the refined query content.
        boxes: ``[batch_size, num_queries, 4]`` predicted (cx, cy, w, h) in [0, 1] of the unpadded image.
        reference: ``[batch_size, num_queries, 2 or 4]`` the reference this layer started from.
        sampling_locations: ``[batch_size, num_queries, num_heads, num_levels, num_points, 2]``.
        attention_weights: ``[batch_size, num_queries, num_heads, num_levels, num_points]``.
    """

    hidden: torch.Tensor
    boxes: torch.Tensor
    reference: torch.Tensor
    sampling_locations: torch.Tensor
    attention_weights: torch.Tensor


class DeformableDecoderLayer(nn.Module):
    """Self-attention -> deformable cross-attention -> memory cross-attention -> feed-forward.

    Each sub-layer is followed by dropout, a residual add and LayerNorm (post-norm). The memory
    cross-attention (InstanceFormer's "memory cross-attention": the queries attend to the instance tokens
    of the last frames, :mod:`instanceformer.core.model.temporal.memory`) exists only when the model keeps
    an instance memory; for a sample whose memory is still empty it is the identity.

    ``position_in_cross_attention`` false drives the deformable cross-attention's sampling offsets and
    weights by the content alone, as the published code does (``model.variant: published``); the toolkit
    adds the query position, as Deformable DETR does.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        num_levels: int,
        num_points: int,
        dim_feedforward: int,
        dropout: float,
        activation: str,
        memory_heads: int | None,
        position_in_cross_attention: bool = True,
    ):
        super().__init__()
        self.position_in_cross_attention = position_in_cross_attention
        self.self_attention = nn.MultiheadAttention(d_model, num_heads, dropout=dropout, batch_first=True)
        self.self_attention_dropout = nn.Dropout(dropout)
        self.self_attention_norm = nn.LayerNorm(d_model)
        self.cross_attention = MultiScaleDeformableAttention(d_model, num_levels, num_heads, num_points)
        self.cross_attention_dropout = nn.Dropout(dropout)
        self.cross_attention_norm = nn.LayerNorm(d_model)
        self.memory_attention: nn.MultiheadAttention | None
        if memory_heads is not None:
            self.memory_attention = nn.MultiheadAttention(
                d_model, memory_heads, dropout=dropout, batch_first=True
            )
            self.memory_attention_dropout = nn.Dropout(dropout)
            self.memory_attention_norm = nn.LayerNorm(d_model)
        else:
            self.memory_attention = None
        self.feedforward = FeedForward(d_model, dim_feedforward, dropout, activation)
        self.feedforward_dropout = nn.Dropout(dropout)
        self.feedforward_norm = nn.LayerNorm(d_model)

    def forward(
        self,
        content: torch.Tensor,
        position: torch.Tensor,
        reference_input: torch.Tensor,
        encoder_memory: torch.Tensor,
        features: MultiScaleFeatures,
        memory: MemoryReadout | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder layer.

        Args:
            content: ``[batch_size, num_queries, d_model]``.
            position: ``[batch_size, num_queries, d_model]`` query position embedding.
            reference_input: ``[batch_size, num_queries, num_levels, 2 or 4]`` references per level.
            encoder_memory: ``[batch_size, num_tokens, d_model]``.
            features: the flattened levels (shapes, padding) the memory was computed on.
            memory: the instance memory tokens, or None when the model has no memory.

        Returns:
            content ``[batch_size, num_queries, d_model]``, sampling locations and attention weights.
        """
        query = content + position
        attended = self.self_attention(query, query, content, need_weights=False)[0]
        content = self.self_attention_norm(content + self.self_attention_dropout(attended))
        sampled = self.cross_attention(
            content + position if self.position_in_cross_attention else content,
            reference_input,
            encoder_memory,
            features.spatial_shapes,
            features.level_start_index,
            features.padding_mask,
        )
        content = self.cross_attention_norm(content + self.cross_attention_dropout(sampled.output))
        if self.memory_attention is not None and memory is not None:
            content = self._attend_to_memory(content, position, memory)
        content = self.feedforward_norm(content + self.feedforward_dropout(self.feedforward(content)))
        return content, sampled.sampling_locations, sampled.attention_weights

    def _attend_to_memory(
        self, content: torch.Tensor, position: torch.Tensor, memory: MemoryReadout
    ) -> torch.Tensor:
        assert self.memory_attention is not None  # called only when the layer has memory attention
        attended = self.memory_attention(
            content + position,
            memory.tokens + memory.positions,
            memory.tokens,
            key_padding_mask=memory.attention_padding_mask,
            need_weights=False,
        )[0]  # [B, Q, D]
        updated = self.memory_attention_norm(content + self.memory_attention_dropout(attended))
        # samples with an empty memory keep their content unchanged
        return torch.where(memory.has_tokens[:, None, None], updated, content)


def scale_reference_to_levels(reference: torch.Tensor, valid_ratios: torch.Tensor) -> torch.Tensor:
    """Express references normalised to the unpadded image in each level's padded map.

    Args:
        reference: ``[batch_size, num_queries, 2]`` points or ``[batch_size, num_queries, 4]`` boxes.
        valid_ratios: ``[batch_size, num_levels, 2]`` (width, height).

    Returns:
        ``[batch_size, num_queries, num_levels, 2 or 4]``.
    """
    if reference.shape[-1] == 4:
        valid_ratios = torch.cat((valid_ratios, valid_ratios), dim=-1)
    return reference[:, :, None, :] * valid_ratios[:, None, :, :]


def _last_linear(head: nn.Module) -> nn.Linear:
    """The last layer of a box head (an :class:`MLP` of linear layers)."""
    assert isinstance(head, MLP)
    last_layer = head.layers[-1]
    assert isinstance(last_layer, nn.Linear)
    return last_layer


class DeformableDecoder(nn.Module):
    """A stack of decoder layers; after each one a per-layer box MLP refines the reference.

    The box head predicts a correction in logit space on top of the layer's reference (a 2-D point
    moves the centre only; the first head's bias starts the size at sigmoid(-2)); the next layer starts
    from the refined box, detached so that each layer learns its own correction.
    """

    def __init__(self, layers: list[DeformableDecoderLayer], d_model: int):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.box_heads = nn.ModuleList(MLP(d_model, d_model, 4, 3) for _ in layers)
        self.reset_box_heads()

    def reset_box_heads(self) -> None:
        """Zero the last layer of every box head; the first head's size logits start at -2."""
        last_layers = [_last_linear(head) for head in self.box_heads]
        for last_layer in last_layers:
            nn.init.zeros_(last_layer.weight)
            nn.init.zeros_(last_layer.bias)
        nn.init.constant_(last_layers[0].bias[2:], -2.0)

    def forward(
        self,
        content: torch.Tensor,
        position: torch.Tensor,
        reference: torch.Tensor,
        encoder_memory: torch.Tensor,
        features: MultiScaleFeatures,
        memory: MemoryReadout | None,
    ) -> list[DecoderLayerOutput]:
        """Run every layer.

        Args:
            content: ``[batch_size, num_queries, d_model]`` initial query content.
            position: ``[batch_size, num_queries, d_model]`` query position embedding.
            reference: ``[batch_size, num_queries, 2]`` points or ``[batch_size, num_queries, 4]`` boxes,
                normalised to the unpadded image.
            encoder_memory: ``[batch_size, num_tokens, d_model]``.
            features: the flattened levels.
            memory: instance memory tokens or None.
        """
        outputs = []
        for layer, box_head in zip(self.layers, self.box_heads, strict=True):
            reference_input = scale_reference_to_levels(reference, features.valid_ratios)
            content, locations, weights = layer(
                content, position, reference_input, encoder_memory, features, memory
            )
            correction = box_head(content)  # [B, Q, 4]
            if reference.shape[-1] == 4:
                boxes = (correction + inverse_sigmoid(reference)).sigmoid()
            else:
                centres = correction[..., :2] + inverse_sigmoid(reference)
                boxes = torch.cat((centres, correction[..., 2:]), dim=-1).sigmoid()
            outputs.append(DecoderLayerOutput(content, boxes, reference, locations, weights))
            reference = boxes.detach()
        return outputs

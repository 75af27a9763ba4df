"""What the model returns for one frame."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from instanceformer.core.model.mask_head import DynamicMaskHead


@dataclass(frozen=True)
class LayerOutputs:
    """The predictions of one decoder layer.

    Attributes:
        logits: ``[batch_size, num_queries, num_classes]`` class logits (sigmoid, no "no object" class).
        boxes: ``[batch_size, num_queries, 4]`` (cx, cy, w, h) in [0, 1] of the unpadded image.
        mask_parameters: ``[batch_size, num_queries, num_dynamic_parameters]`` dynamic conv weights.
        mask_centres: ``[batch_size, num_queries, 2]`` (x, y) the relative coordinates are taken from
            (the layer's reference point), normalised to the unpadded image.
    """

    logits: torch.Tensor
    boxes: torch.Tensor
    mask_parameters: torch.Tensor
    mask_centres: torch.Tensor


@dataclass(frozen=True)
class AnalysisOutputs:
    """Where the decoder looked (returned when ``collect_analysis=True``).

    Attributes:
        reference_points: ``[batch_size, num_queries, num_layers, 2]`` (x, y) of each layer's reference,
            normalised to the unpadded image.
        sampling_locations: ``[batch_size, num_queries, num_layers, num_heads, num_levels, num_points, 2]``
            (x, y) in [0, 1] of each level's padded map.
        attention_weights: ``[batch_size, num_queries, num_layers, num_heads, num_levels, num_points]``.
    """

    reference_points: torch.Tensor
    sampling_locations: torch.Tensor
    attention_weights: torch.Tensor


@dataclass(frozen=True)
class FrameOutputs:
    """The model's output for one frame.

    The top-level prediction fields belong to the last decoder layer; ``aux`` holds the other layers
    (first to second-to-last) when the model is in training mode, and is empty otherwise.

    Attributes:
        logits: ``[batch_size, num_queries, num_classes]``.
        boxes: ``[batch_size, num_queries, 4]`` normalised (cx, cy, w, h).
        masks: ``[batch_size, num_queries, ceil(H / 8) * 2, ceil(W / 8) * 2]`` mask logits at stride 4
            (``H, W`` the padded input size), or None when masks were not requested (the criterion
            computes masks only for the matched queries).
        embeddings: ``[batch_size, num_queries, embedding_dim]`` instance embeddings (the decoder embedding
            when the model has no embedding head).
        decoder_embeddings: ``[batch_size, num_queries, d_model]`` final decoder embeddings.
        mask_parameters: ``[batch_size, num_queries, num_dynamic_parameters]``.
        mask_centres: ``[batch_size, num_queries, 2]``.
        mask_features: ``[batch_size, dynamic_channels, ceil(H / 8), ceil(W / 8)]`` shared mask features.
        valid_ratios: ``[batch_size, 2]`` (width, height) fraction of the padded input that is image.
        image_sizes: ``[batch_size, 2]`` (width, height) of the unpadded image in input pixels.
        memory_queries: ``[batch_size, memory_top_k]`` int64, the queries written to the memory (the
            top-scoring ones).
        mask_head: the dynamic convolution that turns ``mask_parameters`` into ``masks`` (its strides,
            coordinate units and upsampling).
        aux: per-layer outputs of the earlier decoder layers.
        analysis: sampling details, or None.
    """

    logits: torch.Tensor
    boxes: torch.Tensor
    masks: torch.Tensor | None
    embeddings: torch.Tensor
    decoder_embeddings: torch.Tensor
    mask_parameters: torch.Tensor
    mask_centres: torch.Tensor
    mask_features: torch.Tensor
    valid_ratios: torch.Tensor
    image_sizes: torch.Tensor
    memory_queries: torch.Tensor
    mask_head: DynamicMaskHead
    aux: tuple[LayerOutputs, ...] = ()
    analysis: AnalysisOutputs | None = None

    @property
    def feature_stride(self) -> int:
        """The stride of ``mask_features`` in input pixels."""
        return self.mask_head.feature_stride

    @property
    def mask_stride(self) -> int:
        """The stride of ``masks`` in input pixels."""
        return self.mask_head.output_stride

    @property
    def final_layer(self) -> LayerOutputs:
        """The last decoder layer's predictions as a :class:`LayerOutputs`."""
        return LayerOutputs(self.logits, self.boxes, self.mask_parameters, self.mask_centres)

    @property
    def layers(self) -> tuple[LayerOutputs, ...]:
        """Every available decoder layer, first to last."""
        return (*self.aux, self.final_layer)

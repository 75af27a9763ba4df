"""Assembling the model from its parts, DETR style: :func:`build_model` builds each part from the
configuration and hands them to :class:`InstanceFormer` (or to :class:`QueryGroupInstanceFormer` when
training with query groups)."""

from __future__ import annotations

from torch import nn

from instanceformer.core.config.schema import ModelConfig, TemporalConfig, TransformerConfig
from instanceformer.core.model.backbone import Backbone, load_backbone_weights
from instanceformer.core.model.class_logits import (
    CategoryIdClassLogits,
    ClassLogitLayout,
    ContiguousClassLogits,
)
from instanceformer.core.model.decoder import DeformableDecoder, DeformableDecoderLayer
from instanceformer.core.model.encoder import DeformableEncoder, DeformableEncoderLayer
from instanceformer.core.model.feedforward import MLP
from instanceformer.core.model.instanceformer import InstanceFormer
from instanceformer.core.model.mask_head import (
    DynamicMaskHead,
    ImageFractionCoordinates,
    MaskBranch,
    PixelCoordinates,
    aligned_bilinear,
    bilinear_upsampling,
    dynamic_parameter_sizes,
)
from instanceformer.core.model.multiscale import InputProjections
from instanceformer.core.model.query_groups import QueryGroupInstanceFormer
from instanceformer.core.model.temporal.memory import (
    FrameOffsetPositions,
    InstanceMemory,
    MemoryFramePositions,
    QueueSlotPositions,
)
from instanceformer.core.model.temporal.propagation import (
    ClassPrior,
    LearnedReferencePoints,
    LocationPrior,
    PreviousBoxCentres,
    PriorPropagation,
    PublishedReferenceChain,
)


def build_encoder(transformer: TransformerConfig) -> DeformableEncoder:
    """The deformable encoder of ``model.transformer``."""
    return DeformableEncoder(
        [
            DeformableEncoderLayer(
                transformer.d_model,
                transformer.num_heads,
                transformer.num_feature_levels,
                transformer.num_encoder_points,
                transformer.dim_feedforward,
                transformer.dropout,
                transformer.activation,
            )
            for _ in range(transformer.num_encoder_layers)
        ]
    )


def build_decoder(
    transformer: TransformerConfig, temporal: TemporalConfig, *, position_in_cross_attention: bool = True
) -> DeformableDecoder:
    """The decoder of ``model.transformer``, with a memory cross-attention in every layer when
    ``model.temporal.memory`` is on; ``position_in_cross_attention`` false leaves the query position out
    of the deformable cross-attention (the published decoder)."""
    memory_heads = temporal.memory_heads if temporal.memory else None
    return DeformableDecoder(
        [
            DeformableDecoderLayer(
                transformer.d_model,
                transformer.num_heads,
                transformer.num_feature_levels,
                transformer.num_decoder_points,
                transformer.dim_feedforward,
                transformer.dropout,
                transformer.activation,
                memory_heads,
                position_in_cross_attention,
            )
            for _ in range(transformer.num_decoder_layers)
        ],
        transformer.d_model,
    )


def build_location_prior(config: ModelConfig) -> LocationPrior:
    """The location prior: none without ``model.temporal.propagate_boxes``, else the previous frame's box
    centres (toolkit) or the published chain of initial reference points."""
    if not config.temporal.propagate_boxes:
        return LearnedReferencePoints()
    if config.variant == "published":
        return PublishedReferenceChain(additive=config.published.reference_update == "additive")
    return PreviousBoxCentres()


def build_class_logits(config: ModelConfig) -> ClassLogitLayout:
    """One logit per class (toolkit) or the published raw-id layout of ``model.published.class_logits``."""
    if config.variant == "published":
        return CategoryIdClassLogits(config.num_classes, config.published.class_logits)
    return ContiguousClassLogits(config.num_classes)


def build_dynamic_mask_head(config: ModelConfig, feature_stride: int) -> DynamicMaskHead:
    """The dynamic convolution: coordinates in image fractions times ``model.mask_head.coordinate_scale``
    and bilinear upsampling (toolkit), or pixel coordinates and aligned upsampling (published)."""
    if config.variant == "published":
        return DynamicMaskHead(
            feature_stride, config.mask_head.mask_stride, PixelCoordinates(), aligned_bilinear
        )
    coordinates = ImageFractionCoordinates(config.mask_head.coordinate_scale)
    return DynamicMaskHead(feature_stride, config.mask_head.mask_stride, coordinates, bilinear_upsampling)


def build_memory_frame_positions(config: ModelConfig) -> MemoryFramePositions:
    """Memory-token frame positions: frame offsets (toolkit) or the published queue slots."""
    return QueueSlotPositions() if config.variant == "published" else FrameOffsetPositions()


def build_model(config: ModelConfig, *, pretrained_backbone: bool = True) -> InstanceFormer:
    """The model described by ``config`` (``config.model`` of a :class:`~instanceformer.core.Config`).

    The parts are created in a fixed order and then initialised by :meth:`InstanceFormer.reset_parameters`,
    so a seed determines every initial parameter.

    Args:
        config: the model configuration.
        pretrained_backbone: load ``model.backbone.weights`` into the backbone when it is set. False builds
            the architecture only and never opens that file: for a model whose checkpoint supplies every
            weight.

    Returns:
        A :class:`QueryGroupInstanceFormer` when ``model.transformer.num_query_groups`` > 1, else an
        :class:`InstanceFormer`; in training mode.
    """
    transformer, temporal, mask_head = config.transformer, config.temporal, config.mask_head
    d_model = transformer.d_model
    class_logits = build_class_logits(config)
    num_logits = class_logits.num_logits
    backbone = Backbone(config.backbone)
    input_projections = InputProjections(list(backbone.channels), d_model, transformer.num_feature_levels)
    encoder = build_encoder(transformer)
    decoder = build_decoder(transformer, temporal, position_in_cross_attention=config.variant != "published")
    # each row: [position embedding | initial content], d_model each; query group g holds rows g*Q .. g*Q+Q-1
    query_embedding = nn.Embedding(transformer.num_queries * transformer.num_query_groups, 2 * d_model)
    reference_points = nn.Linear(d_model, 2)
    class_heads = nn.ModuleList(nn.Linear(d_model, num_logits) for _ in range(transformer.num_decoder_layers))
    weight_sizes, bias_sizes = dynamic_parameter_sizes(
        mask_head.dynamic_channels, mask_head.num_dynamic_layers
    )
    controller = MLP(d_model, d_model, sum(weight_sizes) + sum(bias_sizes), 3)
    mask_branch = MaskBranch(
        d_model, mask_head.branch_channels, mask_head.dynamic_channels, len(backbone.strides)
    )
    embedding_head = MLP(d_model, d_model, temporal.embedding_dim, 2) if temporal.contrastive else None
    class_prior = ClassPrior(num_logits, d_model) if temporal.propagate_classes else None
    memory = (
        InstanceMemory(
            d_model,
            num_logits,
            temporal.memory_top_k,
            transformer.dropout,
            build_memory_frame_positions(config),
        )
        if temporal.memory
        else None
    )
    model_class = QueryGroupInstanceFormer if transformer.num_query_groups > 1 else InstanceFormer
    model = model_class(
        config,
        backbone=backbone,
        input_projections=input_projections,
        encoder=encoder,
        decoder=decoder,
        query_embedding=query_embedding,
        reference_points=reference_points,
        class_heads=class_heads,
        class_logits=class_logits,
        controller=controller,
        mask_branch=mask_branch,
        dynamic_mask_head=build_dynamic_mask_head(config, min(backbone.strides)),
        embedding_head=embedding_head,
        propagation=PriorPropagation(
            representation=temporal.propagate_embeddings, location=build_location_prior(config)
        ),
        class_prior=class_prior,
        memory=memory,
    )
    if pretrained_backbone and config.backbone.weights is not None:
        load_backbone_weights(model.backbone, config.backbone.weights)
    return model

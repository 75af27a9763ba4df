"""InstanceFormer: a deformable detector with a dynamic mask head, run online one frame at a time.

Per frame: backbone -> input projections -> deformable encoder -> decoder (self-attention, deformable
cross-attention, memory cross-attention, feed-forward) -> class / box / mask-parameter heads. Between
frames the :class:`TrackingState` carries the priors (embeddings, class distribution, refined boxes) and
the memory queue; its size does not depend on the number of frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from instanceformer.core.config.schema import ModelConfig
from instanceformer.core.model.backbone import Backbone
from instanceformer.core.model.batch import ClipBatch
from instanceformer.core.model.decoder import DecoderLayerOutput, DeformableDecoder, DeformableDecoderLayer
from instanceformer.core.model.deformable_attention import MultiScaleDeformableAttention
from instanceformer.core.model.encoder import DeformableEncoder, DeformableEncoderLayer
from instanceformer.core.model.feedforward import MLP
from instanceformer.core.model.mask_head import MaskBranch, dynamic_mask_logits, dynamic_parameter_sizes
from instanceformer.core.model.memory import InstanceMemory, MemoryReadout, select_top_queries
from instanceformer.core.model.multiscale import InputProjections, valid_ratios
from instanceformer.core.model.outputs import AnalysisOutputs, FrameOutputs, LayerOutputs
from instanceformer.core.model.state import TrackingState

CLASS_PRIOR_PROBABILITY = 0.01
LINEAR_PROJECTION_NAMES = ("sampling_offsets", "reference_points")


class InstanceFormer(nn.Module):
    """The online video instance segmentation model. Build it with :func:`build_model`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        transformer, temporal, mask_head = config.transformer, config.temporal, config.mask_head
        d_model, num_classes = transformer.d_model, config.num_classes
        self.backbone = Backbone(config.backbone)
        self.num_backbone_levels = len(self.backbone.strides)
        self.input_projections = InputProjections(
            list(self.backbone.channels), d_model, transformer.num_feature_levels
        )
        self.encoder = DeformableEncoder(
            [
                DeformableEncoderLayer(
                    d_model,
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
        memory_heads = temporal.memory_heads if temporal.memory else None
        self.decoder = DeformableDecoder(
            [
                DeformableDecoderLayer(
                    d_model,
                    transformer.num_heads,
                    transformer.num_feature_levels,
                    transformer.num_decoder_points,
                    transformer.dim_feedforward,
                    transformer.dropout,
                    transformer.activation,
                    memory_heads,
                )
                for _ in range(transformer.num_decoder_layers)
            ],
            d_model,
        )
        # each row: [position embedding | initial content], d_model each; group g holds rows g*Q .. g*Q+Q-1
        self.query_embedding = nn.Embedding(
            transformer.num_queries * transformer.num_query_groups, 2 * d_model
        )
        self.reference_points = nn.Linear(d_model, 2)
        self.class_heads = nn.ModuleList(
            nn.Linear(d_model, num_classes) for _ in range(transformer.num_decoder_layers)
        )
        weight_sizes, bias_sizes = dynamic_parameter_sizes(
            mask_head.dynamic_channels, mask_head.num_dynamic_layers
        )
        self.controller = MLP(d_model, d_model, sum(weight_sizes) + sum(bias_sizes), 3)
        self.mask_branch = MaskBranch(
            d_model, mask_head.branch_channels, mask_head.dynamic_channels, self.num_backbone_levels
        )
        self.embedding_head = (
            MLP(d_model, d_model, temporal.embedding_dim, 2) if temporal.contrastive else None
        )
        self.class_prior = nn.Linear(num_classes, d_model) if temporal.propagate_classes else None
        self.memory = (
            InstanceMemory(d_model, num_classes, temporal.memory_top_k, transformer.dropout)
            if temporal.memory
            else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The published initialisation: Xavier in the transformer, deformable-attention rings, focal prior
        on the class bias, zero last box layers; the class prior starts as a no-op."""
        for stack in (self.encoder.layers, self.decoder.layers):
            for parameter in stack.parameters():
                if parameter.dim() > 1:
                    nn.init.xavier_uniform_(parameter)
        for module in self.modules():
            if isinstance(module, MultiScaleDeformableAttention):
                module.reset_parameters()
        self.decoder.reset_box_heads()
        nn.init.xavier_uniform_(self.reference_points.weight, gain=1.0)
        nn.init.zeros_(self.reference_points.bias)
        bias = -math.log((1.0 - CLASS_PRIOR_PROBABILITY) / CLASS_PRIOR_PROBABILITY)
        for head in self.class_heads:
            nn.init.constant_(head.bias, bias)
        for layer in self.controller.layers:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.class_prior is not None:
            nn.init.zeros_(self.class_prior.weight)
            nn.init.zeros_(self.class_prior.bias)
        if self.memory is not None:
            nn.init.xavier_uniform_(self.memory.projection.weight)

    @property
    def num_queries(self) -> int:
        """The number of object queries (tracks) per frame."""
        return self.config.transformer.num_queries

    @property
    def active_query_groups(self) -> int:
        """Query groups decoded per video: ``num_query_groups`` in training mode, 1 in evaluation mode."""
        return self.config.transformer.num_query_groups if self.training else 1

    def init_state(
        self, batch_size: int, device: torch.device | str | None = None, memory_frames: int | None = None
    ) -> TrackingState:
        """The state before a video's first frame.

        Args:
            batch_size: number of query sets tracked together: the number of videos times
                :attr:`active_query_groups` (group ``g`` of video ``v`` is row ``v * groups + g``).
            device: defaults to the model's device.
            memory_frames: frames kept in the memory queue (default ``model.temporal.memory_frames``;
                inference may use ``infer.memory_frames``).
        """
        parameter = next(self.parameters())
        temporal = self.config.temporal
        frames = temporal.memory_frames if memory_frames is None else memory_frames
        if frames < 1:
            raise ValueError(f"memory_frames must be >= 1, got {frames}")
        num_slots = frames * temporal.memory_top_k if temporal.memory else 0
        return TrackingState.empty(
            batch_size,
            self.num_queries,
            self.config.transformer.d_model,
            self.config.num_classes,
            num_slots,
            device=parameter.device if device is None else device,
            dtype=parameter.dtype,
        )

    def step(
        self,
        images: torch.Tensor,
        state: TrackingState,
        padding_mask: torch.Tensor | None = None,
        *,
        collect_analysis: bool = False,
        compute_masks: bool | None = None,
    ) -> tuple[FrameOutputs, TrackingState]:
        """Process one frame of each video in the batch.

        Args:
            images: ``[batch_size, 3, height, width]`` normalised frames (zero padding right/bottom).
            state: from :meth:`init_state` (``batch_size * active_query_groups`` rows) or the previous
                call.
            padding_mask: ``[batch_size, height, width]`` bool, True on padded pixels; None = no padding.
            collect_analysis: also return reference points, sampling locations and attention weights.
            compute_masks: compute mask logits for every query (default: in evaluation mode only).

        Returns:
            The frame's :class:`FrameOutputs` (``batch_size * active_query_groups`` rows) and the state
            for the next frame.
        """
        batch_size, _, height, width = images.shape
        groups = self.active_query_groups
        if state.batch_size != batch_size * groups:
            raise ValueError(
                f"state holds {state.batch_size} query sets but images hold {batch_size} videos x {groups} "
                "query groups"
            )
        if padding_mask is None:
            padding_mask = torch.zeros(batch_size, height, width, dtype=torch.bool, device=images.device)
        features = self.input_projections(self.backbone(images), padding_mask)
        encoder_memory = self.encoder(features)  # [B, S, D]
        position, content_weight = self._group_queries(batch_size, groups)  # [B*G, Q, D] each
        content, reference = self._initial_queries(state, content_weight, position)
        decoder_features = features.repeat_batch(groups)
        decoder_memory = encoder_memory.repeat_interleave(groups, dim=0) if groups > 1 else encoder_memory
        decoded = self.decoder(
            content, position, reference, decoder_memory, decoder_features, self._read_memory(state, position)
        )
        # the earlier layers' predictions feed the auxiliary losses only
        predicted = range(len(decoded)) if self.training else [len(decoded) - 1]
        layers = [self._predict(index, decoded[index]) for index in predicted]
        final, hidden = layers[-1], decoded[-1].hidden
        mask_features = self.mask_branch(features.split_levels(encoder_memory)[: self.num_backbone_levels])
        image_valid_ratios = valid_ratios(padding_mask)  # [B, 2]
        if groups > 1:
            mask_features = mask_features.repeat_interleave(groups, dim=0)  # [B*G, C, h, w]
            image_valid_ratios = image_valid_ratios.repeat_interleave(groups, dim=0)  # [B*G, 2]
        feature_stride = min(self.backbone.strides)
        mask_stride = self.config.mask_head.mask_stride
        if compute_masks is None:
            compute_masks = not self.training
        masks = None
        if compute_masks:
            masks = dynamic_mask_logits(
                mask_features,
                final.mask_parameters,
                final.mask_centres,
                image_valid_ratios,
                feature_stride,
                mask_stride,
                self.config.mask_head.coordinate_scale,
            )
        probabilities = final.logits.sigmoid()  # [B, Q, C]
        selected = select_top_queries(probabilities, self.config.temporal.memory_top_k)  # [B, k]
        outputs = FrameOutputs(
            logits=final.logits,
            boxes=final.boxes,
            masks=masks,
            embeddings=hidden if self.embedding_head is None else self.embedding_head(hidden),
            decoder_embeddings=hidden,
            mask_parameters=final.mask_parameters,
            mask_centres=final.mask_centres,
            mask_features=mask_features,
            valid_ratios=image_valid_ratios,
            memory_queries=selected,
            feature_stride=feature_stride,
            mask_stride=mask_stride,
            aux=tuple(layers[:-1]) if self.training else (),
            analysis=_analysis(decoded) if collect_analysis else None,
            coordinate_scale=self.config.mask_head.coordinate_scale,
            num_query_groups=groups,
        )
        return outputs, self._next_state(state, hidden, probabilities, final.boxes, selected)

    def _group_queries(self, batch_size: int, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The learned position embeddings and initial contents of the first ``groups`` query groups.

        Returns:
            ``([batch_size * groups, num_queries, d_model], [batch_size * groups, num_queries, d_model])``,
            row ``v * groups + g`` holding group ``g``.
        """
        d_model, num_queries = self.config.transformer.d_model, self.num_queries
        weight = self.query_embedding.weight[: groups * num_queries].view(1, groups, num_queries, 2 * d_model)
        weight = weight.expand(batch_size, -1, -1, -1).reshape(batch_size * groups, num_queries, 2 * d_model)
        position, content = weight.split(d_model, dim=-1)
        return position, content

    def _initial_queries(
        self, state: TrackingState, content_weight: torch.Tensor, position: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Query content ``[B, Q, D]`` and reference points ``[B, Q, 2]``.

        From the second frame on the references are the centres of the previous frame's final refined
        boxes (the location prior). The first decoder layer always starts from points, so its box head
        always predicts absolute sizes; later layers refine boxes.
        """
        temporal = self.config.temporal
        has_previous = state.frame_index > 0
        content = state.embeddings if temporal.propagate_embeddings and has_previous else content_weight
        if self.class_prior is not None and has_previous:
            content = content + self.class_prior(state.class_probabilities)
        if temporal.propagate_boxes and has_previous:
            reference = state.boxes[..., :2]
        else:
            reference = self.reference_points(position).sigmoid()
        return content, reference

    def _read_memory(self, state: TrackingState, position: torch.Tensor) -> MemoryReadout | None:
        if self.memory is None or state.frame_index == 0:
            return None
        return self.memory.read(
            state.memory_tokens,
            state.memory_query_indices,
            state.memory_frame_indices,
            state.memory_valid,
            state.frame_index,
            position,
        )

    def _predict(self, layer_index: int, output: DecoderLayerOutput) -> LayerOutputs:
        """Class logits, boxes and mask parameters of one decoder layer (the controller is shared)."""
        return LayerOutputs(
            logits=self.class_heads[layer_index](output.hidden),
            boxes=output.boxes,
            mask_parameters=self.controller(output.hidden),
            mask_centres=output.reference[..., :2],
        )

    def _next_state(
        self,
        state: TrackingState,
        hidden: torch.Tensor,
        probabilities: torch.Tensor,
        boxes: torch.Tensor,
        selected: torch.Tensor,
    ) -> TrackingState:
        tokens, query_indices = state.memory_tokens, state.memory_query_indices
        frame_indices, valid = state.memory_frame_indices, state.memory_valid
        if self.memory is not None and state.num_slots > 0:
            tokens, query_indices, frame_indices, valid = self.memory.write(
                tokens,
                query_indices,
                frame_indices,
                valid,
                state.frame_index,
                hidden,
                probabilities,
                boxes.detach(),
                selected,
            )
        return TrackingState(
            frame_index=state.frame_index + 1,
            embeddings=hidden,
            class_probabilities=probabilities,
            boxes=boxes.detach(),
            memory_tokens=tokens,
            memory_query_indices=query_indices,
            memory_frame_indices=frame_indices,
            memory_valid=valid,
        )

    def forward(self, images: torch.Tensor, padding_mask: torch.Tensor | None = None) -> list[FrameOutputs]:
        """Unroll :meth:`step` over clips; gradients flow through the propagated state.

        Args:
            images: ``[batch_size, num_frames, 3, height, width]``.
            padding_mask: ``[batch_size, height, width]`` bool, shared by the frames of a clip.

        Returns:
            One :class:`FrameOutputs` per frame; in training mode with query groups each holds
            ``batch_size * num_query_groups`` rows (see :meth:`step`).
        """
        state = self.init_state(images.shape[0] * self.active_query_groups, device=images.device)
        outputs = []
        for frame in range(images.shape[1]):
            frame_outputs, state = self.step(images[:, frame], state, padding_mask)
            outputs.append(frame_outputs)
        return outputs

    def forward_clip(self, batch: ClipBatch) -> list[FrameOutputs]:
        """:meth:`forward` on a :class:`ClipBatch`."""
        return self(batch.images, batch.padding_mask)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters split for the optimiser: ``backbone``, ``linear_projection`` (the
        sampling-offset and reference-point projections, trained at a reduced rate) and ``other``."""
        groups: dict[str, list[nn.Parameter]] = {"backbone": [], "linear_projection": [], "other": []}
        for name, parameter in self.named_parameters():
            if not parameter.requires_grad:
                continue
            if name.startswith("backbone."):
                groups["backbone"].append(parameter)
            elif any(part in name for part in LINEAR_PROJECTION_NAMES):
                groups["linear_projection"].append(parameter)
            else:
                groups["other"].append(parameter)
        return groups


def _analysis(decoded: Sequence[DecoderLayerOutput]) -> AnalysisOutputs:
    return AnalysisOutputs(
        reference_points=torch.stack([output.reference[..., :2] for output in decoded], dim=2),
        sampling_locations=torch.stack([output.sampling_locations for output in decoded], dim=2),
        attention_weights=torch.stack([output.attention_weights for output in decoded], dim=2),
    )


def build_model(config: ModelConfig) -> InstanceFormer:
    """The model described by ``config`` (``config.model`` of a :class:`~instanceformer.core.Config`)."""
    return InstanceFormer(config)

"""InstanceFormer (Koner et al., AAAI 2023, arXiv 2208.10547): a deformable detector with a dynamic mask
head, run online one frame at a time.

Per frame: backbone -> input projections -> deformable encoder -> decoder (self-attention, deformable
cross-attention, memory cross-attention, feed-forward) -> class / box / mask-parameter heads. Between
frames the :class:`TrackingState` carries the priors (:mod:`.temporal.propagation`) and the memory queue
(:mod:`.temporal.memory`); its size does not depend on the number of frames. The temporal contrastive
loss that shapes the instance embeddings is :mod:`instanceformer.core.losses.contrastive`.

The model is assembled from its parts by :func:`~instanceformer.core.model.build.build_model`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import nn

from instanceformer.core.config.schema import ModelConfig
from instanceformer.core.model.backbone import Backbone
from instanceformer.core.model.class_logits import ClassLogitLayout
from instanceformer.core.model.decoder import DecoderLayerOutput, DeformableDecoder
from instanceformer.core.model.deformable_attention import MultiScaleDeformableAttention
from instanceformer.core.model.encoder import DeformableEncoder
from instanceformer.core.model.feedforward import MLP
from instanceformer.core.model.mask_head import DynamicMaskHead, MaskBranch
from instanceformer.core.model.multiscale import (
    InputProjections,
    MultiScaleFeatures,
    unpadded_image_sizes,
    valid_ratios,
)
from instanceformer.core.model.outputs import AnalysisOutputs, FrameOutputs, LayerOutputs
from instanceformer.core.model.temporal.memory import InstanceMemory, select_top_queries
from instanceformer.core.model.temporal.propagation import ClassPrior, PriorPropagation
from instanceformer.core.model.temporal.state import TrackingState

CLASS_PRIOR_PROBABILITY = 0.01
LINEAR_PROJECTION_NAMES = ("sampling_offsets", "reference_points")


class InstanceFormer(nn.Module):
    """The online video instance segmentation model: one set of ``num_queries`` queries per video.

    Args:
        config: the settings the parts were built from (query count, memory length, mask strides); the
            model builds nothing from it.
        backbone: the image backbone.
        input_projections: backbone maps -> flattened multi-scale tokens.
        encoder: the deformable encoder.
        decoder: the decoder layers with their box heads (iterative box refinement).
        query_embedding: ``[num_queries, 2 * d_model]``: each row is [position embedding | initial
            content] of one query.
        reference_points: projects a query position to its learned reference point (logits).
        class_heads: one class head per decoder layer, ``class_logits.num_logits`` outputs each.
        class_logits: which class-head outputs are the dataset's classes.
        controller: the dynamic mask head's parameter generator, shared by the decoder layers.
        mask_branch: the shared mask features.
        dynamic_mask_head: turns the controller's parameters and the mask features into mask logits.
        embedding_head: the instance-embedding head of the contrastive loss, or None (the decoder
            embedding is then the instance embedding).
        propagation: which priors pass from one frame to the next.
        class_prior: the class-distribution prior, or None.
        memory: the instance memory, or None (the decoder then has no memory cross-attention).
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        backbone: Backbone,
        input_projections: InputProjections,
        encoder: DeformableEncoder,
        decoder: DeformableDecoder,
        query_embedding: nn.Embedding,
        reference_points: nn.Linear,
        class_heads: nn.ModuleList,
        class_logits: ClassLogitLayout,
        controller: MLP,
        mask_branch: MaskBranch,
        dynamic_mask_head: DynamicMaskHead,
        embedding_head: MLP | None,
        propagation: PriorPropagation,
        class_prior: ClassPrior | None,
        memory: InstanceMemory | None,
    ):
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.input_projections = input_projections
        self.encoder = encoder
        self.decoder = decoder
        self.query_embedding = query_embedding
        self.reference_points = reference_points
        self.class_heads = class_heads
        self.class_logits = class_logits
        self.controller = controller
        self.mask_branch = mask_branch
        self.dynamic_mask_head = dynamic_mask_head
        self.embedding_head = embedding_head
        self.class_prior = class_prior
        self.memory = memory
        self.propagation = propagation
        self.num_backbone_levels = len(backbone.strides)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The published initialisation: Xavier in the transformer, deformable-attention rings, focal prior
        on the class bias, zero last box layers, Xavier controller and memory token projection."""
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
            assert isinstance(head, nn.Linear)
            nn.init.constant_(head.bias, bias)
        for layer in self.controller.layers:
            assert isinstance(layer, nn.Linear)
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.memory is not None:
            self.memory.reset_parameters()

    @property
    def num_queries(self) -> int:
        """The number of object queries (tracks) per frame."""
        return self.config.transformer.num_queries

    def init_state(
        self, batch_size: int, device: torch.device | str | None = None, memory_frames: int | None = None
    ) -> TrackingState:
        """The state before a video's first frame.

        Args:
            batch_size: the number of videos tracked together.
            device: defaults to the model's device.
            memory_frames: frames kept in the memory queue (default ``model.temporal.memory_frames``;
                inference may use ``infer.memory_frames``).
        """
        return self._empty_state(batch_size, device, memory_frames)

    def _empty_state(
        self, num_query_sets: int, device: torch.device | str | None, memory_frames: int | None
    ) -> TrackingState:
        parameter = next(self.parameters())
        frames = self.config.temporal.memory_frames if memory_frames is None else memory_frames
        if frames < 1:
            raise ValueError(f"memory_frames must be >= 1, got {frames}")
        num_slots = self.memory.num_slots(frames) if self.memory is not None else 0
        return TrackingState.empty(
            num_query_sets,
            self.num_queries,
            self.config.transformer.d_model,
            self.class_logits.num_logits,
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
            state: from :meth:`init_state` or the previous call (``batch_size`` rows).
            padding_mask: ``[batch_size, height, width]`` bool, True on padded pixels; None = no padding.
            collect_analysis: also return reference points, sampling locations and attention weights.
            compute_masks: compute mask logits for every query (default: in evaluation mode only).

        Returns:
            The frame's :class:`FrameOutputs` (``batch_size`` rows) and the state for the next frame.
        """
        batch_size = images.shape[0]
        if state.batch_size != batch_size:
            raise ValueError(f"state holds {state.batch_size} query sets but images hold {batch_size} videos")
        padding_mask = resolve_padding_mask(images, padding_mask)
        features, encoder_memory = self.encode(images, padding_mask)
        position, learned_content = self.learned_queries(batch_size)
        decoded = self.decode(state, position, learned_content, features, encoder_memory)
        layers = self.predict(decoded)
        mask_features = self.mask_features(features, encoder_memory)
        return self.finish_frame(
            state,
            decoded,
            layers,
            mask_features,
            valid_ratios(padding_mask),
            unpadded_image_sizes(padding_mask),
            collect_analysis=collect_analysis,
            compute_masks=compute_masks,
        )

    def encode(
        self, images: torch.Tensor, padding_mask: torch.Tensor
    ) -> tuple[MultiScaleFeatures, torch.Tensor]:
        """Backbone, input projections and encoder.

        Args:
            images: ``[batch_size, 3, height, width]``.
            padding_mask: ``[batch_size, height, width]`` bool.

        Returns:
            The flattened feature levels and the encoder memory ``[batch_size, num_tokens, d_model]``.
        """
        features = self.input_projections(self.backbone(images), padding_mask)
        return features, self.encoder(features)

    def learned_queries(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The learned query position embeddings and initial contents of every video.

        Returns:
            ``([batch_size, num_queries, d_model], [batch_size, num_queries, d_model])``.
        """
        queries = self.query_embedding.weight[None].expand(batch_size, -1, -1)  # [B, Q, 2 * D]
        position, content = queries.split(self.config.transformer.d_model, dim=-1)
        return position, content

    def decode(
        self,
        state: TrackingState,
        position: torch.Tensor,
        learned_content: torch.Tensor,
        features: MultiScaleFeatures,
        encoder_memory: torch.Tensor,
    ) -> list[DecoderLayerOutput]:
        """Propagate the priors, read the memory and run the decoder layers.

        Args:
            state: the previous frame's state (``batch_size`` rows).
            position, learned_content: ``[batch_size, num_queries, d_model]`` from :meth:`learned_queries`.
            features: the flattened levels (``batch_size`` rows).
            encoder_memory: ``[batch_size, num_tokens, d_model]``.

        Returns:
            One :class:`DecoderLayerOutput` per decoder layer.
        """
        content, reference = self.propagation.initial_queries(
            state, position, learned_content, self.reference_points, self.class_prior
        )
        readout = self.memory.read(state, position) if self.memory is not None else None
        return self.decoder(content, position, reference, encoder_memory, features, readout)

    def predict(self, decoded: Sequence[DecoderLayerOutput]) -> list[LayerOutputs]:
        """Class logits, boxes and mask parameters of every decoder layer in training mode (the earlier
        layers feed the auxiliary losses only), of the last layer in evaluation mode."""
        predicted = range(len(decoded)) if self.training else [len(decoded) - 1]
        return [self._predict_layer(index, decoded[index]) for index in predicted]

    def _predict_layer(self, layer_index: int, output: DecoderLayerOutput) -> LayerOutputs:
        """The heads on one decoder layer (the controller is shared)."""
        return LayerOutputs(
            logits=self.class_heads[layer_index](output.hidden),
            boxes=output.boxes,
            mask_parameters=self.controller(output.hidden),
            mask_centres=output.reference[..., :2],
        )

    def mask_features(self, features: MultiScaleFeatures, encoder_memory: torch.Tensor) -> torch.Tensor:
        """The shared mask features ``[batch_size, dynamic_channels, height / s, width / s]`` at the finest
        backbone stride ``s``, from the encoder memory of the backbone levels."""
        return self.mask_branch(features.split_levels(encoder_memory)[: self.num_backbone_levels])

    def finish_frame(
        self,
        state: TrackingState,
        decoded: Sequence[DecoderLayerOutput],
        layers: Sequence[LayerOutputs],
        mask_features: torch.Tensor,
        image_valid_ratios: torch.Tensor,
        image_sizes: torch.Tensor,
        *,
        collect_analysis: bool,
        compute_masks: bool | None,
    ) -> tuple[FrameOutputs, TrackingState]:
        """The frame's outputs and the next state from the decoder's and heads' results.

        Args:
            state: the previous frame's state.
            decoded: from :meth:`decode`.
            layers: from :meth:`predict`.
            mask_features: ``[batch_size, dynamic_channels, h, w]`` from :meth:`mask_features`.
            image_valid_ratios: ``[batch_size, 2]`` (width, height) valid fraction of the padded input.
            image_sizes: ``[batch_size, 2]`` (width, height) of the unpadded image in input pixels.
            collect_analysis, compute_masks: as in :meth:`step`.
        """
        final, hidden = layers[-1], decoded[-1].hidden
        if compute_masks is None:
            compute_masks = not self.training
        masks = None
        if compute_masks:
            masks = self.dynamic_mask_head(
                mask_features, final.mask_parameters, final.mask_centres, image_sizes
            )
        # the memory and its selection read every class-head output, the outputs the dataset's classes
        probabilities = final.logits.sigmoid()  # [B, Q, num_logits]
        selected = select_top_queries(probabilities, self.config.temporal.memory_top_k)  # [B, k]
        outputs = FrameOutputs(
            logits=self.class_logits.dataset_classes(final.logits),
            boxes=final.boxes,
            masks=masks,
            embeddings=hidden if self.embedding_head is None else self.embedding_head(hidden),
            decoder_embeddings=hidden,
            mask_parameters=final.mask_parameters,
            mask_centres=final.mask_centres,
            mask_features=mask_features,
            valid_ratios=image_valid_ratios,
            image_sizes=image_sizes,
            memory_queries=selected,
            mask_head=self.dynamic_mask_head,
            aux=tuple(self._dataset_classes(layer) for layer in layers[:-1]) if self.training else (),
            analysis=_analysis(decoded) if collect_analysis else None,
        )
        next_state = self._next_state(
            state, hidden, probabilities, final.boxes, decoded[0].reference, selected
        )
        return outputs, next_state

    def _dataset_classes(self, layer: LayerOutputs) -> LayerOutputs:
        """``layer`` with its logits reduced to the dataset's classes (the same object when the heads
        already have one logit per class)."""
        logits = self.class_logits.dataset_classes(layer.logits)
        return layer if logits is layer.logits else replace(layer, logits=logits)

    def _next_state(
        self,
        state: TrackingState,
        hidden: torch.Tensor,
        probabilities: torch.Tensor,
        boxes: torch.Tensor,
        reference_points: torch.Tensor,
        selected: torch.Tensor,
    ) -> TrackingState:
        """The priors of this frame (``reference_points``: the first decoder layer's) and the memory queue
        with its ``selected`` queries written."""
        tokens, query_indices = state.memory_tokens, state.memory_query_indices
        frame_indices, valid = state.memory_frame_indices, state.memory_valid
        if self.memory is not None and state.num_slots > 0:
            queue = self.memory.write(state, hidden, probabilities, boxes.detach(), selected)
            tokens, query_indices = queue.memory_tokens, queue.memory_query_indices
            frame_indices, valid = queue.memory_frame_indices, queue.memory_valid
        return TrackingState(
            frame_index=state.frame_index + 1,
            embeddings=hidden,
            class_probabilities=probabilities,
            boxes=boxes.detach(),
            reference_points=reference_points,
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
            One :class:`FrameOutputs` per frame (see :meth:`step`).
        """
        state = self.init_state(images.shape[0], device=images.device)
        outputs = []
        for frame in range(images.shape[1]):
            frame_outputs, state = self.step(images[:, frame], state, padding_mask)
            outputs.append(frame_outputs)
        return outputs

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


def resolve_padding_mask(images: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
    """The ``[batch_size, height, width]`` bool padding mask of ``images [batch_size, 3, height, width]``:
    ``padding_mask`` itself, or all False (no padding) when it is None."""
    if padding_mask is not None:
        return padding_mask
    batch_size, _, height, width = images.shape
    return torch.zeros(batch_size, height, width, dtype=torch.bool, device=images.device)


def _analysis(decoded: Sequence[DecoderLayerOutput]) -> AnalysisOutputs:
    """Where each decoder layer looked, stacked along a layer axis (shapes in :class:`AnalysisOutputs`)."""
    return AnalysisOutputs(
        reference_points=torch.stack([output.reference[..., :2] for output in decoded], dim=2),
        sampling_locations=torch.stack([output.sampling_locations for output in decoded], dim=2),
        attention_weights=torch.stack([output.attention_weights for output in decoded], dim=2),
    )

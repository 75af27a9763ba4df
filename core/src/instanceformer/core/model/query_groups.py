"""Query groups: Group-DETR-style one-to-many supervision in training (not part of InstanceFormer).

With ``model.transformer.num_query_groups`` = G > 1, training decodes G independent sets of
``num_queries`` queries per video. The groups share the backbone, encoder, mask branch and heads; each
decodes, propagates its priors and keeps its memory on its own, and the criterion matches each to the
ground truth on its own (:mod:`instanceformer.core.losses.query_groups`). Evaluation and inference run
the first group only, exactly as the single-group model does.

The grouped model extends :class:`~instanceformer.core.model.instanceformer.InstanceFormer` rather than
holding it, so that both have the same parameter names: checkpoints and the published key mapping
(:mod:`~instanceformer.core.model.convert`) serve both, and a single-group model loads a grouped
checkpoint once ``query_embedding.weight`` is cut to its first ``num_queries`` rows.
"""

from __future__ import annotations

from typing import Any

import torch

from instanceformer.core.config.schema import ModelConfig
from instanceformer.core.model.instanceformer import InstanceFormer, resolve_padding_mask
from instanceformer.core.model.multiscale import unpadded_image_sizes, valid_ratios
from instanceformer.core.model.outputs import FrameOutputs
from instanceformer.core.model.temporal.state import TrackingState


class QueryGroupInstanceFormer(InstanceFormer):
    """:class:`InstanceFormer` trained with ``num_query_groups`` query groups.

    ``query_embedding`` holds ``num_query_groups * num_queries`` rows, group after group (group ``g`` is
    rows ``g * num_queries`` to ``(g + 1) * num_queries - 1``). In training mode every batched tensor of
    the state and the outputs holds ``batch_size * num_query_groups`` rows: row ``v * num_query_groups +
    g`` is group ``g`` of video ``v``. In evaluation mode the model is the single-group model of group 0.
    The other arguments are those of :class:`InstanceFormer`.
    """

    def __init__(self, config: ModelConfig, **parts: Any):
        super().__init__(config, **parts)
        expected_rows = config.transformer.num_queries * config.transformer.num_query_groups
        if self.query_embedding.num_embeddings != expected_rows:
            raise ValueError(
                f"query_embedding has {self.query_embedding.num_embeddings} rows, expected {expected_rows} "
                "(num_queries x num_query_groups)"
            )

    @property
    def num_query_groups(self) -> int:
        """The number of query groups trained."""
        return self.config.transformer.num_query_groups

    @property
    def active_query_groups(self) -> int:
        """Query groups decoded per video: :attr:`num_query_groups` in training mode, 1 in evaluation."""
        return self.num_query_groups if self.training else 1

    def init_state(
        self, batch_size: int, device: torch.device | str | None = None, memory_frames: int | None = None
    ) -> TrackingState:
        """The state before a video's first frame: ``batch_size * active_query_groups`` rows.

        Args:
            batch_size: the number of videos tracked together.
            device, memory_frames: as in :meth:`InstanceFormer.init_state`.
        """
        return self._empty_state(batch_size * self.active_query_groups, device, memory_frames)

    def learned_queries(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The learned query position embeddings and initial contents of the active groups.

        Returns:
            ``([batch_size * G, num_queries, d_model], [batch_size * G, num_queries, d_model])`` with
            ``G = active_query_groups``; row ``v * G + g`` holds group ``g`` for video ``v``.
        """
        groups, num_queries = self.active_query_groups, self.num_queries
        width = self.query_embedding.embedding_dim  # 2 * d_model
        weight = self.query_embedding.weight[: groups * num_queries].view(1, groups, num_queries, width)
        weight = weight.expand(batch_size, -1, -1, -1).reshape(batch_size * groups, num_queries, width)
        position, content = weight.split(width // 2, dim=-1)
        return position, content

    def step(
        self,
        images: torch.Tensor,
        state: TrackingState,
        padding_mask: torch.Tensor | None = None,
        *,
        collect_analysis: bool = False,
        compute_masks: bool | None = None,
    ) -> tuple[FrameOutputs, TrackingState]:
        """:meth:`InstanceFormer.step`; in training mode every group of each video is decoded.

        The backbone, encoder and mask branch run once per video; their results are repeated for the
        video's groups. ``state`` and the returned :class:`FrameOutputs` and state hold
        ``batch_size * active_query_groups`` rows.
        """
        groups = self.active_query_groups
        if groups == 1:
            return super().step(
                images, state, padding_mask, collect_analysis=collect_analysis, compute_masks=compute_masks
            )
        batch_size = images.shape[0]
        if state.batch_size != batch_size * groups:
            raise ValueError(
                f"state holds {state.batch_size} query sets but images hold {batch_size} videos x {groups} "
                "query groups"
            )
        padding_mask = resolve_padding_mask(images, padding_mask)
        features, encoder_memory = self.encode(images, padding_mask)
        position, learned_content = self.learned_queries(batch_size)  # [B*G, Q, D] each
        decoded = self.decode(
            state,
            position,
            learned_content,
            features.repeat_batch(groups),
            encoder_memory.repeat_interleave(groups, dim=0),  # [B*G, S, D]
        )
        layers = self.predict(decoded)
        mask_features = self.mask_features(features, encoder_memory)  # [B, C, h, w]
        return self.finish_frame(
            state,
            decoded,
            layers,
            mask_features.repeat_interleave(groups, dim=0),  # [B*G, C, h, w]
            valid_ratios(padding_mask).repeat_interleave(groups, dim=0),  # [B*G, 2]
            unpadded_image_sizes(padding_mask).repeat_interleave(groups, dim=0),  # [B*G, 2]
            collect_analysis=collect_analysis,
            compute_masks=compute_masks,
        )

"""The instance memory: top-k instance tokens of the last frames in a fixed-size queue."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from instanceformer.core.model.position_encoding import frame_offset_encoding


@dataclass(frozen=True)
class MemoryReadout:
    """The memory as the decoder's memory cross-attention reads it.

    Attributes:
        tokens: ``[batch_size, num_slots, d_model]`` keys' content and values.
        positions: ``[batch_size, num_slots, d_model]`` the token's query position embedding plus the sine
            encoding of its frame offset.
        attention_padding_mask: ``[batch_size, num_slots]`` bool, True on slots to ignore. A sample whose
            queue is empty has its first slot unmasked so the softmax stays finite; its result is discarded.
        has_tokens: ``[batch_size]`` bool, samples with at least one token.
    """

    tokens: torch.Tensor
    positions: torch.Tensor
    attention_padding_mask: torch.Tensor
    has_tokens: torch.Tensor


def select_top_queries(class_probabilities: torch.Tensor, top_k: int) -> torch.Tensor:
    """The ``top_k`` queries with the highest class score.

    Args:
        class_probabilities: ``[batch_size, num_queries, num_classes]`` in [0, 1].

    Returns:
        ``[batch_size, top_k]`` int64 query indices, best first.
    """
    scores = class_probabilities.detach().max(dim=-1).values  # [B, Q]
    return scores.topk(top_k, dim=-1).indices


def _gather_queries(values: torch.Tensor, query_indices: torch.Tensor) -> torch.Tensor:
    """Pick rows: ``values [batch_size, num_queries, channels]`` at ``indices [batch_size, k]``
    -> ``[batch_size, k, channels]``."""
    return values.gather(1, query_indices[..., None].expand(-1, -1, values.shape[-1]))


class InstanceMemory(nn.Module):
    """Builds memory tokens from a frame's instances and reads the queue for the next frame.

    A token is a linear projection of [decoder embedding, class probabilities, box] of one of the frame's
    ``top_k`` highest-scoring queries.
    """

    def __init__(self, d_model: int, num_classes: int, top_k: int, dropout: float):
        super().__init__()
        self.projection = nn.Linear(d_model + num_classes + 4, d_model)
        self.dropout = nn.Dropout(dropout)
        self.d_model = d_model
        self.top_k = top_k

    def read(
        self,
        state_tokens: torch.Tensor,
        query_indices: torch.Tensor,
        frame_indices: torch.Tensor,
        valid: torch.Tensor,
        current_frame: int,
        query_position: torch.Tensor,
    ) -> MemoryReadout:
        """The queue as keys/values for the frame ``current_frame``.

        Args:
            state_tokens: ``[batch_size, num_slots, d_model]``.
            query_indices: ``[batch_size, num_slots]`` int64.
            frame_indices: ``[batch_size, num_slots]`` int64.
            valid: ``[batch_size, num_slots]`` bool.
            current_frame: index of the frame being decoded.
            query_position: ``[batch_size, num_queries, d_model]`` the learned position embedding of
                each sample's queries.
        """
        positions = _gather_queries(query_position, query_indices)  # [B, S, D]
        offsets = (current_frame - frame_indices).clamp(min=0)  # [B, S]
        positions = positions + frame_offset_encoding(offsets, self.d_model).to(positions.dtype)
        has_tokens = valid.any(dim=1)  # [B]
        ignore = ~valid
        ignore[:, 0] = ignore[:, 0] & has_tokens
        return MemoryReadout(state_tokens, positions, ignore, has_tokens)

    def write(
        self,
        state_tokens: torch.Tensor,
        query_indices: torch.Tensor,
        frame_indices: torch.Tensor,
        valid: torch.Tensor,
        current_frame: int,
        embeddings: torch.Tensor,
        class_probabilities: torch.Tensor,
        boxes: torch.Tensor,
        selected: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Write the selected queries of frame ``current_frame`` over the oldest frame's slots.

        Args:
            state_tokens, query_indices, frame_indices, valid: the queue (see :class:`TrackingState`).
            embeddings: ``[batch_size, num_queries, d_model]`` final decoder embeddings.
            class_probabilities: ``[batch_size, num_queries, num_classes]``.
            boxes: ``[batch_size, num_queries, 4]``.
            selected: ``[batch_size, top_k]`` int64 query indices to store.

        Returns:
            The new (tokens, query_indices, frame_indices, valid), same shapes as the inputs.
        """
        features = torch.cat(
            (
                _gather_queries(embeddings, selected),
                _gather_queries(class_probabilities, selected),
                _gather_queries(boxes, selected),
            ),
            dim=-1,
        )  # [B, k, D + C + 4]
        new_tokens = self.dropout(self.projection(features))  # [B, k, D]
        num_frames_kept = state_tokens.shape[1] // self.top_k
        start = (current_frame % num_frames_kept) * self.top_k
        end = start + self.top_k
        state_tokens = torch.cat((state_tokens[:, :start], new_tokens, state_tokens[:, end:]), dim=1)
        query_indices = query_indices.clone()
        query_indices[:, start:end] = selected
        frame_indices = frame_indices.clone()
        frame_indices[:, start:end] = current_frame
        valid = valid.clone()
        valid[:, start:end] = True
        return state_tokens, query_indices, frame_indices, valid

"""The instance memory of InstanceFormer's memory cross-attention (Koner et al., AAAI 2023,
arXiv 2208.10547, method: "memory cross-attention").

After each frame the ``top_k`` highest-scoring queries are written to a queue that holds the last
``memory_frames`` frames; in the next frame every decoder layer's memory cross-attention reads that queue
(the attention itself is :meth:`DeformableDecoderLayer._attend_to_memory
<instanceformer.core.model.decoder.DeformableDecoderLayer>`). The queue lives in the
:class:`~instanceformer.core.model.temporal.state.TrackingState`, so its size never grows with the video.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from instanceformer.core.model.position_encoding import frame_offset_encoding, queue_slot_encoding
from instanceformer.core.model.temporal.state import TrackingState


@dataclass(frozen=True)
class MemoryReadout:
    """The memory as the decoder's memory cross-attention reads it.

    Attributes:
        tokens: ``[batch_size, num_slots, d_model]`` keys' content and values.
        positions: ``[batch_size, num_slots, d_model]`` the token's query position embedding plus the sine
            encoding of its frame (:class:`FrameOffsetPositions` or :class:`QueueSlotPositions`).
        attention_padding_mask: ``[batch_size, num_slots]`` bool, True on slots to ignore. A sample whose
            queue is empty has its first slot unmasked so the softmax stays finite; its result is discarded.
        has_tokens: ``[batch_size]`` bool, samples with at least one token.
    """

    tokens: torch.Tensor
    positions: torch.Tensor
    attention_padding_mask: torch.Tensor
    has_tokens: torch.Tensor


@dataclass(frozen=True)
class MemoryQueue:
    """The queue tensors of a :class:`TrackingState` after a write (same names and shapes)."""

    memory_tokens: torch.Tensor
    memory_query_indices: torch.Tensor
    memory_frame_indices: torch.Tensor
    memory_valid: torch.Tensor


def select_top_queries(class_probabilities: torch.Tensor, top_k: int) -> torch.Tensor:
    """The ``top_k`` queries with the highest class score: the ones a frame writes to the memory.

    Args:
        class_probabilities: ``[batch_size, num_queries, num_classes]`` in [0, 1].

    Returns:
        ``[batch_size, top_k]`` int64 query indices, best first.
    """
    scores = class_probabilities.detach().max(dim=-1).values  # [B, Q]
    return scores.topk(top_k, dim=-1).indices


class MemoryFramePositions(Protocol):
    """The part of a memory token's position that says which frame it was written at."""

    def __call__(self, state: TrackingState, frames_kept: int, d_model: int) -> torch.Tensor:
        """``[batch_size, num_slots, d_model]`` for the queue of ``state`` (``frames_kept`` frames), read
        while decoding frame ``state.frame_index``."""
        ...


@dataclass(frozen=True)
class FrameOffsetPositions:
    """The toolkit's frame positions: the sine encoding of how many frames ago a token was written
    (:func:`frame_offset_encoding`), whatever the queue length."""

    def __call__(self, state: TrackingState, frames_kept: int, d_model: int) -> torch.Tensor:
        """See :class:`MemoryFramePositions`."""
        offsets = (state.frame_index - state.memory_frame_indices).clamp(min=0)  # [B, S]
        return frame_offset_encoding(offsets, d_model)


@dataclass(frozen=True)
class QueueSlotPositions:
    """The published frame positions: the normalised sine encoding of the token's place in the queue,
    oldest frame first (:func:`queue_slot_encoding` over the ``frames_kept`` slots)."""

    def __call__(self, state: TrackingState, frames_kept: int, d_model: int) -> torch.Tensor:
        """See :class:`MemoryFramePositions`."""
        offsets = state.frame_index - state.memory_frame_indices  # [B, S], 1 = the previous frame
        frames_filled = min(state.frame_index, frames_kept)
        slots = (frames_filled - offsets).clamp(0, frames_kept - 1)  # [B, S], 0 = the oldest frame kept
        encoding = queue_slot_encoding(frames_kept, d_model // 2, state.memory_tokens.device)  # [F, D]
        return encoding[slots]


def _gather_queries(values: torch.Tensor, query_indices: torch.Tensor) -> torch.Tensor:
    """Pick rows: ``values [batch_size, num_queries, channels]`` at ``indices [batch_size, k]``
    -> ``[batch_size, k, channels]``."""
    return values.gather(1, query_indices[..., None].expand(-1, -1, values.shape[-1]))


class InstanceMemory(nn.Module):
    """Writes a frame's instances to the queue and reads the queue for the next frame.

    A token is a linear projection of [decoder embedding, class probabilities, box] of one of the frame's
    ``top_k`` highest-scoring queries. Its position is the position embedding of its query plus
    ``frame_positions``.
    """

    def __init__(
        self,
        d_model: int,
        num_classes: int,
        top_k: int,
        dropout: float,
        frame_positions: MemoryFramePositions = FrameOffsetPositions(),
    ):
        super().__init__()
        self.projection = nn.Linear(d_model + num_classes + 4, d_model)
        self.dropout = nn.Dropout(dropout)
        self.d_model = d_model
        self.top_k = top_k
        self.frame_positions = frame_positions

    def reset_parameters(self) -> None:
        """Xavier token projection (its bias keeps ``nn.Linear``'s initialisation)."""
        nn.init.xavier_uniform_(self.projection.weight)

    def num_slots(self, memory_frames: int) -> int:
        """The queue length that keeps ``memory_frames`` frames."""
        return memory_frames * self.top_k

    def read(self, state: TrackingState, query_position: torch.Tensor) -> MemoryReadout | None:
        """The queue as keys and values for the frame after ``state``; None before the first frame.

        Args:
            state: the queue (``memory_*``) and the index of the frame being decoded (``frame_index``).
            query_position: ``[batch_size, num_queries, d_model]`` the learned position embedding of each
                sample's queries; a token's position starts from that of the query it came from.
        """
        if state.frame_index == 0:
            return None
        positions = _gather_queries(query_position, state.memory_query_indices)  # [B, S, D]
        frames_kept = state.num_slots // self.top_k
        positions = positions + self.frame_positions(state, frames_kept, self.d_model).to(positions.dtype)
        has_tokens = state.memory_valid.any(dim=1)  # [B]
        ignore = ~state.memory_valid
        ignore[:, 0] = ignore[:, 0] & has_tokens
        return MemoryReadout(state.memory_tokens, positions, ignore, has_tokens)

    def write(
        self,
        state: TrackingState,
        embeddings: torch.Tensor,
        class_probabilities: torch.Tensor,
        boxes: torch.Tensor,
        selected: torch.Tensor,
    ) -> MemoryQueue:
        """Write the selected queries of frame ``state.frame_index`` over the oldest frame's slots.

        Args:
            state: the queue before the write.
            embeddings: ``[batch_size, num_queries, d_model]`` final decoder embeddings.
            class_probabilities: ``[batch_size, num_queries, num_classes]``.
            boxes: ``[batch_size, num_queries, 4]``.
            selected: ``[batch_size, top_k]`` int64 query indices to store.

        Returns:
            The new queue, same shapes as the state's.
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
        num_frames_kept = state.num_slots // self.top_k
        start = (state.frame_index % num_frames_kept) * self.top_k
        end = start + self.top_k
        tokens = state.memory_tokens
        tokens = torch.cat((tokens[:, :start], new_tokens, tokens[:, end:]), dim=1)
        query_indices = state.memory_query_indices.clone()
        query_indices[:, start:end] = selected
        frame_indices = state.memory_frame_indices.clone()
        frame_indices[:, start:end] = state.frame_index
        valid = state.memory_valid.clone()
        valid[:, start:end] = True
        return MemoryQueue(tokens, query_indices, frame_indices, valid)

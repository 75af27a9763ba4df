"""The tracking state carried from one frame to the next: fixed-size tensors, whatever the video length."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass(frozen=True)
class TrackingState:
    """What the model remembers between frames: the priors of the last frame and the memory queue.

    ``frame_index`` counts the frames already processed (0 before the first). The memory queue is a ring
    of ``num_slots = memory_frames * memory_top_k`` slots: frame ``f`` writes its top-k instance tokens
    to slots ``(f % memory_frames) * k ... + k``, overwriting the oldest frame.

    Attributes:
        frame_index: frames processed so far.
        embeddings: ``[batch_size, num_queries, d_model]`` final decoder embeddings of the last frame.
        class_probabilities: ``[batch_size, num_queries, num_classes]`` sigmoid scores of the last frame.
        boxes: ``[batch_size, num_queries, 4]`` final refined boxes (cx, cy, w, h) of the last frame.
        reference_points: ``[batch_size, num_queries, 2]`` (x, y) the first decoder layer's reference points
            of the last frame (the published location prior derives the next frame's from them).
        memory_tokens: ``[batch_size, num_slots, d_model]`` projected instance tokens.
        memory_query_indices: ``[batch_size, num_slots]`` int64, the query each token came from.
        memory_frame_indices: ``[batch_size, num_slots]`` int64, the frame each token was written at.
        memory_valid: ``[batch_size, num_slots]`` bool, slots that hold a token.
    """

    frame_index: int
    embeddings: torch.Tensor
    class_probabilities: torch.Tensor
    boxes: torch.Tensor
    reference_points: torch.Tensor
    memory_tokens: torch.Tensor
    memory_query_indices: torch.Tensor
    memory_frame_indices: torch.Tensor
    memory_valid: torch.Tensor

    @classmethod
    def empty(
        cls,
        batch_size: int,
        num_queries: int,
        d_model: int,
        num_classes: int,
        num_slots: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> TrackingState:
        """The state before the first frame: zeros and an empty memory (shapes as in the class docstring)."""
        return cls(
            frame_index=0,
            embeddings=torch.zeros(batch_size, num_queries, d_model, device=device, dtype=dtype),
            class_probabilities=torch.zeros(batch_size, num_queries, num_classes, device=device, dtype=dtype),
            boxes=torch.zeros(batch_size, num_queries, 4, device=device, dtype=dtype),
            reference_points=torch.zeros(batch_size, num_queries, 2, device=device, dtype=dtype),
            memory_tokens=torch.zeros(batch_size, num_slots, d_model, device=device, dtype=dtype),
            memory_query_indices=torch.zeros(batch_size, num_slots, dtype=torch.long, device=device),
            memory_frame_indices=torch.zeros(batch_size, num_slots, dtype=torch.long, device=device),
            memory_valid=torch.zeros(batch_size, num_slots, dtype=torch.bool, device=device),
        )

    @property
    def batch_size(self) -> int:
        """The number of query sets the state tracks."""
        return int(self.embeddings.shape[0])

    @property
    def num_slots(self) -> int:
        """The number of memory slots (``memory_frames * memory_top_k``, 0 without memory)."""
        return int(self.memory_tokens.shape[1])

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor of the state by field name."""
        return {item.name: getattr(self, item.name) for item in fields(self) if item.name != "frame_index"}

    def num_elements(self) -> int:
        """The total number of tensor elements (constant over a video)."""
        return sum(tensor.numel() for tensor in self.tensors().values())

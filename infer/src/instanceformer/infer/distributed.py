"""Inference over several processes started by ``torchrun``: each rank a shard, rank 0 writes."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from instanceformer.core.runtime.process import ProcessInfo


def gather_to_main(info: ProcessInfo, value: Any) -> list[Any] | None:
    """Every rank's ``value`` on rank 0 (in rank order); None on the other ranks."""
    if not info.is_distributed:
        return [value]
    gathered: list[Any] | None = [None] * info.world_size if info.is_main else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def rank_device(info: ProcessInfo, requested: str | None) -> str | None:
    """The device of this rank: with several ranks and a visible GPU, ``cuda:<local rank>`` unless the
    user asked for the CPU; otherwise ``requested`` (None: the run's ``infer.device``)."""
    if info.is_distributed and torch.cuda.is_available() and requested != "cpu":
        return f"cuda:{info.local_rank}"
    return requested

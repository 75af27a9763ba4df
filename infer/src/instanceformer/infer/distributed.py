"""Inference over several processes started by ``torchrun``: each rank a shard, rank 0 writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """This process's rank among ``world_size`` (1 when not started by torchrun)."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes the outputs."""
        return self.rank == 0


def distributed_context() -> DistributedContext:
    """The rank and world size from the ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` variables of torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank)


def start_process_group(context: DistributedContext) -> None:
    """Join the process group (gloo: only Python objects are exchanged) when running under torchrun."""
    if context.is_distributed and not dist.is_initialized():
        dist.init_process_group("gloo", rank=context.rank, world_size=context.world_size)


def stop_process_group() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def gather_to_main(context: DistributedContext, value: Any) -> list[Any] | None:
    """Every rank's ``value`` on rank 0 (in rank order); None on the other ranks."""
    if not context.is_distributed:
        return [value]
    gathered: list[Any] | None = [None] * context.world_size if context.is_main else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def rank_device(context: DistributedContext, requested: str | None) -> str | None:
    """The device of this rank: with several ranks and a visible GPU, ``cuda:<local rank>`` unless the
    user asked for the CPU; otherwise ``requested`` (None: the run's ``infer.device``)."""
    if context.is_distributed and torch.cuda.is_available() and requested != "cpu":
        return f"cuda:{context.local_rank}"
    return requested

"""The collective operations of a distributed training run (no-ops for one process).

Joining and leaving the group is :mod:`instanceformer.core.engine.distributed`; this process's rank is
:func:`instanceformer.core.runtime.process.process_info`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist


def _joined() -> bool:
    return dist.is_available() and dist.is_initialized()


def barrier() -> None:
    """Wait for every process (no-op for one process)."""
    if _joined():
        dist.barrier()


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` (any shape) over processes; ``values`` itself for one process."""
    if not _joined():
        return values
    reduced = values.clone()
    dist.all_reduce(reduced)
    return reduced / dist.get_world_size()


def gather_objects(value: Any) -> list[Any]:
    """Every process's ``value`` (picklable), indexed by rank; ``[value]`` for one process."""
    if not _joined():
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every process."""
    if not _joined():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]

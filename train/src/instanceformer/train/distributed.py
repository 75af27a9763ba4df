"""The process group of a distributed run (torchrun's environment) and collective helpers.

A process started by ``torchrun`` (or by ``ifm-train run --nproc-per-node N``) finds ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment and joins the
group with NCCL on GPUs and Gloo on CPU. Without them the run is a single process and no group exists.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

TIMEOUT = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the run: global ``rank``, ``local_rank`` on its node, ``world_size``."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run folder and draws the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def process_info(environ: Mapping[str, str] | None = None) -> ProcessInfo:
    """Read rank, local rank and world size from torchrun's environment variables."""
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ:
        return ProcessInfo()
    return ProcessInfo(
        rank=int(environ.get("RANK", "0")),
        local_rank=int(environ.get("LOCAL_RANK", "0")),
        world_size=int(environ["WORLD_SIZE"]),
    )


def launched_by_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs under torchrun (its launcher sets ``TORCHELASTIC_RUN_ID``)."""
    environ = os.environ if environ is None else environ
    return "TORCHELASTIC_RUN_ID" in environ or "LOCAL_RANK" in environ


def init_process_group(info: ProcessInfo, device: torch.device) -> None:
    """Join the process group (NCCL for CUDA devices, Gloo for CPU); nothing for one process."""
    if not info.distributed or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group(backend, timeout=TIMEOUT, device_id=device)
    else:
        dist.init_process_group(backend, timeout=TIMEOUT)


def destroy_process_group() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process (no-op for one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` (any shape) over processes; ``values`` itself for one process."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    reduced = values.clone()
    dist.all_reduce(reduced)
    return reduced / dist.get_world_size()


def gather_objects(value: Any) -> list[Any]:
    """Every process's ``value`` (picklable), indexed by rank; ``[value]`` for one process."""
    if not (dist.is_available() and dist.is_initialized()):
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every process."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]

"""Joining and leaving the process group of a run started by ``torchrun`` (training and inference).

The process finds ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment (see
:func:`instanceformer.core.runtime.process.process_info`); without them it runs alone and no group exists.
"""

from __future__ import annotations

import datetime

import torch
import torch.distributed as dist

from instanceformer.core.runtime.process import ProcessInfo

TIMEOUT = datetime.timedelta(minutes=30)


def init_process_group(info: ProcessInfo, device: torch.device | None = None) -> None:
    """Join the process group; nothing for one process or when already joined.

    With a CUDA ``device`` the group uses NCCL on that GPU; otherwise Gloo (enough when the processes
    only exchange Python objects).
    """
    if not info.is_distributed or dist.is_initialized():
        return
    if device is not None and device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", timeout=TIMEOUT, device_id=device)
    else:
        dist.init_process_group("gloo", timeout=TIMEOUT)


def destroy_process_group() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

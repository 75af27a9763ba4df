"""The compute device a setting names: ``auto``, ``cpu``, ``cuda`` or ``cuda:<index>``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from instanceformer.core.errors import UserError

if TYPE_CHECKING:
    import torch


def resolve_device(requested: str, local_rank: int = 0, *, setting: str = "device") -> torch.device:
    """The device ``requested`` names for the process of local rank ``local_rank``.

    ``auto`` is CUDA when a device is visible, else the CPU. ``cuda`` without an index is the GPU of
    the local rank (``local_rank`` modulo the visible GPUs), so every process of a multi-GPU launch
    takes its own; ``cuda:<index>`` and ``cpu`` are taken as given.

    Args:
        requested: the setting's value.
        local_rank: this process's rank on its node (0 for a single process).
        setting: what the value came from, for error messages (``--device``, ``config key 'train.device'``).

    Raises:
        UserError: a CUDA device is asked for and none is visible, or the name is no device.
    """
    import torch

    wanted = requested
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"{setting} '{requested}': expected a visible CUDA device, none is available")
    if wanted == "cuda":
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    try:
        return torch.device(wanted)
    except RuntimeError:
        raise UserError(f"{setting} '{requested}': expected 'auto', 'cpu' or 'cuda[:index]'") from None

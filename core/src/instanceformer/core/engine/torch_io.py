"""Crash-safe ``torch.save``: the torch counterpart of the writers in :mod:`instanceformer.core.io`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from instanceformer.core.io import atomic_path


def save_torch_atomic(destination: str | os.PathLike[str], payload: Any) -> Path:
    """``torch.save`` ``payload`` to ``destination`` atomically (checkpoints, analysis dumps)."""
    with atomic_path(destination) as temporary:
        torch.save(payload, temporary)
    return Path(destination)

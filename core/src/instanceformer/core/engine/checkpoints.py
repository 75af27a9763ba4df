"""Checkpoints of a run folder: assemble, save, load (``weights_only=True``) and the random states.

A checkpoint holds only tensors and plain values, the keys of :data:`CHECKPOINT_KEYS`; the run folder
(:class:`~instanceformer.core.runs.RunFolder`) names the files and keeps ``last.pt`` current.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from instanceformer.core.config import Config, config_to_dict
from instanceformer.core.engine.torch_io import save_torch_atomic
from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.runs import RunFolder

CHECKPOINT_SCHEMA_VERSION = 1
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "step", "epoch", "rng", "config", "schema_version")


def save_checkpoint(run: RunFolder, payload: Mapping[str, Any], *, keep: int) -> Path:
    """Write ``payload`` as ``checkpoints/<epoch>-<step>.pt`` of ``run``, point ``last.pt`` at it, prune.

    ``payload`` must hold :data:`CHECKPOINT_KEYS` (see :func:`checkpoint_payload`). Only the newest
    ``keep`` numbered checkpoints are kept. Returns the numbered checkpoint's path.
    """
    missing = [key for key in CHECKPOINT_KEYS if key not in payload]
    if missing:
        raise ValueError(f"checkpoint payload lacks {', '.join(missing)}")
    path = run.numbered_checkpoint_path(int(payload["epoch"]), int(payload["step"]))
    save_torch_atomic(path, dict(payload))
    run.promote_checkpoint(path, keep=keep)
    return path


def checkpoint_payload(
    *,
    model: Mapping[str, torch.Tensor],
    optimizer: Mapping[str, Any] | None,
    scheduler: Mapping[str, Any] | None,
    step: int,
    epoch: int,
    config: Config,
    rng: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Assemble a checkpoint dict with every key of :data:`CHECKPOINT_KEYS` (``rng`` captured if absent)."""
    return {
        "model": dict(model),
        "optimizer": dict(optimizer) if optimizer is not None else {},
        "scheduler": dict(scheduler) if scheduler is not None else {},
        "step": int(step),
        "epoch": int(epoch),
        "rng": dict(rng) if rng is not None else capture_rng_state(),
        "config": config_to_dict(config),
        "schema_version": CHECKPOINT_SCHEMA_VERSION,
        **extra,
    }


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its keys and schema version."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as problem:
        reason = _load_failure(path, problem)
        raise FormatError(path, None, None, f"not a loadable checkpoint ({reason})") from None
    if not isinstance(payload, dict):
        raise FormatError(path, None, None, "expected a checkpoint dict")
    missing = [key for key in CHECKPOINT_KEYS if key not in payload]
    if missing:
        raise FormatError(path, None, missing[0], "missing from the checkpoint")
    if payload["schema_version"] != CHECKPOINT_SCHEMA_VERSION:
        raise FormatError(
            path,
            None,
            "schema_version",
            f"expected {CHECKPOINT_SCHEMA_VERSION}, got {payload['schema_version']!r}",
        )
    return payload


def _load_failure(path: Path, problem: BaseException) -> str:
    """Why ``torch.load`` could not read ``path``, in a few words."""
    if isinstance(problem, OSError):
        return f"unreadable: {problem.strerror or problem}"
    if path.stat().st_size == 0:
        return "empty file"
    if not zipfile.is_zipfile(path):
        return "truncated or damaged: not a complete torch.save archive"
    if isinstance(problem, pickle.UnpicklingError):
        return "holds objects that a weights-only load refuses"
    lines = str(problem).strip().splitlines()
    message = lines[0][:120] if lines else ""
    return f"{type(problem).__name__}: {message}" if message else type(problem).__name__


def capture_rng_state() -> dict[str, Any]:
    """The Python, NumPy and torch (CPU and CUDA) random states as tensors and plain values."""
    numpy_state = np.random.get_state()
    # legacy=True (the default) gives the tuple ("MT19937", keys, position, has_gauss, cached_gaussian)
    assert isinstance(numpy_state, tuple)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "position": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore random states captured by :func:`capture_rng_state`."""
    python_state = state["python"]
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

"""Saving and restoring the complete training state through the run folder.

A checkpoint holds core's keys (``model``, ``optimizer``, ``scheduler``, ``step``, ``epoch``, ``rng``,
``config``, ``schema_version``) plus ``epoch_step`` (optimiser steps done in the current epoch, the
sampler position), ``grad_scaler``, ``rng_per_rank`` (every process's random state) and ``world_size``.
Only rank 0 writes; every write is atomic, so a kill at any moment leaves a loadable ``last.pt``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instanceformer.core.engine.checkpoints import load_checkpoint
from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.io import write_text_atomic
from instanceformer.core.runs import RunFolder

TEMPORARY_SUFFIX = ".tmp"


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run continues: the checkpoint file and its payload."""

    path: Path
    payload: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.payload["step"])


def find_resume_point(run: RunFolder) -> ResumePoint | None:
    """The newest loadable checkpoint of ``run``: ``last.pt``, else the newest numbered one.

    Returns None when the run has no checkpoint yet (it stopped before its first one).
    """
    candidates = [run.last_checkpoint_path] + [info.path for info in reversed(run.checkpoints())]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            return ResumePoint(path, load_checkpoint(path))
        except (FormatError, UserError):
            continue
    return None


def remove_partial_writes(run: RunFolder) -> list[Path]:
    """Delete temporary files left in ``checkpoints/`` by a process killed while writing."""
    removed = []
    if run.checkpoint_dir.is_dir():
        for path in run.checkpoint_dir.iterdir():
            if path.name.startswith(".") and path.name.endswith(TEMPORARY_SUFFIX):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def truncate_metrics(run: RunFolder, step: int) -> None:
    """Keep only the ``metrics.jsonl`` records of steps up to ``step`` (rewritten atomically).

    A run killed after its last checkpoint logged steps that the resumed run logs again.
    """
    if not run.metrics_path.is_file():
        return
    records = run.read_metrics()
    kept = [record for record in records if int(record.get("step", 0)) <= step]
    if len(kept) == len(records) and run.metrics_path.read_bytes().endswith(b"\n"):
        return
    text = "".join(_json_line(record) for record in kept)
    write_text_atomic(run.metrics_path, text)


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), allow_nan=True) + "\n"


def rank_rng_state(payload: dict[str, Any], rank: int, world_size: int) -> dict[str, Any]:
    """The random state process ``rank`` restores: its own when the world size is unchanged."""
    per_rank: Sequence[dict[str, Any]] | None = payload.get("rng_per_rank")
    if per_rank is not None and len(per_rank) == world_size:
        return per_rank[rank]
    return payload["rng"]

"""Saving and restoring the complete training state through the run folder.

A checkpoint holds core's keys (``model``, ``optimizer``, ``scheduler``, ``step``, ``epoch``, ``rng``,
``config``, ``schema_version``) plus ``epoch_step`` (optimiser steps done in the current epoch, the
sampler position), ``grad_scaler``, ``rng_per_rank`` (every process's random state) and ``world_size``.
Only rank 0 writes; every write is atomic, so a kill at any moment leaves a loadable ``last.pt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instanceformer.core.engine.checkpoints import load_checkpoint
from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.runs import RunFolder

TEMPORARY_SUFFIX = ".tmp"


@dataclass(frozen=True)
class SkippedCheckpoint:
    """A checkpoint file that a resume could not use, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run continues: the checkpoint file, its payload and the newer files skipped."""

    path: Path
    payload: dict[str, Any]
    skipped: tuple[SkippedCheckpoint, ...] = ()

    @property
    def step(self) -> int:
        return int(self.payload["step"])


def find_resume_point(run: RunFolder) -> ResumePoint:
    """The newest loadable checkpoint of ``run``, with the unloadable files tried before it.

    ``last.pt`` is tried first, then the numbered checkpoints from the newest; a numbered checkpoint newer
    than a loadable ``last.pt`` (a stop between writing it and updating ``last.pt``) wins.

    Raises:
        UserError: no checkpoint is loadable; the message names every file and why it failed.
    """
    skipped: list[SkippedCheckpoint] = []
    last = _try_load(run.last_checkpoint_path, skipped) if run.last_checkpoint_path.is_file() else None
    for info in reversed(run.checkpoints()):
        if last is not None and info.step <= last.step:
            break
        point = _try_load(info.path, skipped)
        if point is not None:
            return ResumePoint(point.path, point.payload, tuple(skipped))
    if last is not None:
        return ResumePoint(last.path, last.payload, tuple(skipped))
    if skipped:
        files = "; ".join(f"{_relative(item.path, run)}: {item.reason}" for item in skipped)
        raise UserError(
            f"{run.root}: --resume: no readable checkpoint ({files}); start the run again with --force"
        )
    raise UserError(
        f"{run.checkpoint_dir}: --resume: no checkpoint to resume from (the run stopped before its first "
        "checkpoint); start the run again with --force"
    )


def describe_resume(run: RunFolder, point: ResumePoint, total_steps: int) -> str:
    """One line: the checkpoint a run resumes from and the files it skipped, with the reasons."""
    line = f"resuming {run.root} from {_relative(point.path, run)} (step {point.step} of {total_steps})"
    if point.skipped:
        files = "; ".join(f"{_relative(item.path, run)}: {item.reason}" for item in point.skipped)
        line += f"; skipped {files}"
    return line


def _try_load(path: Path, skipped: list[SkippedCheckpoint]) -> ResumePoint | None:
    """``path`` as a resume point, or None after adding it to ``skipped`` with the reason."""
    try:
        return ResumePoint(path, load_checkpoint(path))
    except FormatError as problem:
        reason = problem.expected if problem.field is None else f"field '{problem.field}': {problem.expected}"
    except UserError as problem:
        reason = str(problem)
    skipped.append(SkippedCheckpoint(path, reason))
    return None


def _relative(path: Path, run: RunFolder) -> str:
    try:
        return str(path.relative_to(run.root))
    except ValueError:
        return str(path)


def remove_partial_writes(run: RunFolder) -> list[Path]:
    """Delete temporary files left in ``checkpoints/`` by a process killed while writing."""
    removed = []
    if run.checkpoint_dir.is_dir():
        for path in run.checkpoint_dir.iterdir():
            if path.name.startswith(".") and path.name.endswith(TEMPORARY_SUFFIX):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def rank_rng_state(payload: dict[str, Any], rank: int, world_size: int) -> dict[str, Any]:
    """The random state process ``rank`` restores: its own when the world size is unchanged."""
    per_rank: Sequence[dict[str, Any]] | None = payload.get("rng_per_rank")
    if per_rank is not None and len(per_rank) == world_size:
        return per_rank[rank]
    return payload["rng"]

"""The Rich progress display of a training run (drawn by rank 0 only).

On a terminal the row fits its width (the loss terms are cut before anything else); in a log (standard
output not a terminal) a plain line is printed about every hundredth of the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import TracebackType

from rich.console import Console
from rich.progress import Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from instanceformer.core.runtime.progress import progress_bar

SHOWN_TERMS = ("class", "box_l1", "box_giou", "mask_focal", "mask_dice", "contrastive")
LINES_PER_RUN = 100


class EtaColumn(TimeRemainingColumn):
    """The estimated time left, labelled: ``eta 0:12:34``."""

    def render(self, task: Task) -> Text:
        """``eta`` and the remaining time of ``task``."""
        remaining = super().render(task)
        return Text.assemble("eta ", remaining)


class TrainingProgress:
    """A progress bar of optimiser steps with the epoch, loss terms, learning rate and samples/s."""

    def __init__(self, total_steps: int, completed: int, enabled: bool, console: Console | None = None):
        self.enabled = enabled
        self.progress = progress_bar(
            "[bold]train",
            TextColumn("epoch {task.fields[epoch]}"),
            TextColumn("{task.fields[status]}"),
            EtaColumn(),
            TimeElapsedColumn(),
            console=console if console is not None else Console(),
            transient=False,
            disable=not enabled,
            every=max(1, math.ceil(total_steps / LINES_PER_RUN)),
        )
        self.task = self.progress.add_task(
            "train", total=total_steps, completed=completed, epoch=0, status=""
        )

    def __enter__(self) -> TrainingProgress:
        self.progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.__exit__(exc_type, exc_value, traceback)

    def update(
        self,
        step: int,
        epoch: int,
        losses: Mapping[str, float],
        rates: Mapping[str, float],
        samples_per_s: float,
    ) -> None:
        """Show optimiser step ``step`` of epoch ``epoch`` with its losses, learning rates and throughput."""
        terms = " ".join(f"{name} {losses[name]:.3f}" for name in SHOWN_TERMS if name in losses)
        rate = rates.get("other", next(iter(rates.values()), 0.0))
        status = f"loss {losses['total']:.3f} lr {rate:.2e} {samples_per_s:.2f} samples/s ({terms})"
        self.progress.update(self.task, completed=step, epoch=epoch, status=status)

    def print(self, message: str) -> None:
        """Print a line (above the bar when it is drawn)."""
        self.progress.console.print(message, markup=False, highlight=False, soft_wrap=True)

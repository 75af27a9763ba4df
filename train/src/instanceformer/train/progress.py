"""The Rich progress display of a training run (drawn by rank 0 only)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn

from instanceformer.core.runtime.progress import progress_bar

SHOWN_TERMS = ("class", "box_l1", "box_giou", "mask_focal", "mask_dice", "contrastive")


class TrainingProgress:
    """A progress bar of optimiser steps with the epoch, loss terms, learning rate and samples/s."""

    def __init__(self, total_steps: int, completed: int, enabled: bool, console: Console | None = None):
        self.enabled = enabled
        self.progress = progress_bar(
            "[bold]train",
            TextColumn("epoch {task.fields[epoch]}"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console if console is not None else Console(),
            transient=False,
            disable=not enabled,
        )
        self.task = self.progress.add_task(
            "train", total=total_steps, completed=completed, epoch=0, status=""
        )

    def __enter__(self) -> TrainingProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.__exit__(*exc_info)

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
        status = f"loss {losses['total']:.3f} ({terms}) lr {rate:.2e} {samples_per_s:.2f} samples/s"
        self.progress.update(self.task, completed=step, epoch=epoch, status=status)

    def print(self, message: str) -> None:
        """Print a line (above the bar when it is drawn)."""
        self.progress.console.print(message, markup=False, highlight=False, soft_wrap=True)

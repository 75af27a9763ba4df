"""Rich progress bars with videos/s and frames/s."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def inference_progress(description: str) -> Progress:
    """A progress bar on stderr whose task has a ``rates`` field (see :class:`RateMeter`)."""
    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rates]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


class RateMeter:
    """Counts videos and frames since creation and formats their rates per second."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.videos = 0
        self.frames = 0

    def elapsed(self) -> float:
        """Seconds since creation."""
        return max(time.perf_counter() - self.started, 1e-9)

    def frames_per_second(self) -> float:
        """Frames processed per second so far."""
        return self.frames / self.elapsed()

    def text(self) -> str:
        """``'0.52 videos/s  13.1 frames/s'``."""
        elapsed = self.elapsed()
        return f"{self.videos / elapsed:.2f} videos/s  {self.frames / elapsed:.1f} frames/s"

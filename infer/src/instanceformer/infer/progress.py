"""Rich progress bars with videos/s and frames/s."""

from __future__ import annotations

import time

from rich.progress import Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from instanceformer.core.runtime.progress import progress_bar


def inference_progress(description: str) -> Progress:
    """A progress bar on stderr whose task has a ``rates`` field (see :class:`RateMeter`)."""
    return progress_bar(
        description, TextColumn("{task.fields[rates]}"), TimeElapsedColumn(), TimeRemainingColumn()
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

"""Rich progress bars of the analysis commands (on standard error, removed when done)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


def frame_progress(description: str) -> Progress:
    """A progress bar counting frames."""
    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def spinner(description: str) -> Progress:
    """A spinner with the elapsed time, for one long call (t-SNE)."""
    return Progress(
        SpinnerColumn(),
        TextColumn(description),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )

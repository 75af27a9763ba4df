"""The Rich progress displays of the commands: a counting bar, and a spinner for one long call."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


def progress_bar(
    description: str,
    *columns: ProgressColumn,
    console: Console | None = None,
    transient: bool = True,
    disable: bool = False,
) -> Progress:
    """A bar that counts: ``description``, the bar and ``done/total``, then ``columns``.

    Args:
        description: the first column's text (Rich markup; ``{task.description}`` shows the task's).
        columns: further columns, e.g. a ``TextColumn`` of a task field or the remaining time.
        console: where it is drawn (default: standard error).
        transient: remove the display when it stops.
        disable: draw nothing (e.g. on every process but rank 0).
    """
    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        *columns,
        console=console if console is not None else Console(stderr=True),
        transient=transient,
        disable=disable,
    )


def timed_progress_bar(description: str, console: Console | None = None) -> Progress:
    """The bar most commands draw: :func:`progress_bar` with the elapsed time, removed when done."""
    return progress_bar(description, TimeElapsedColumn(), console=console)


def spinner(description: str) -> Progress:
    """A spinner with the elapsed time on standard error, for one long call of unknown length."""
    return Progress(
        SpinnerColumn(),
        TextColumn(description),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )

"""The Rich progress displays of the commands: a counting bar, and a spinner for one long call.

On an interactive terminal the display is one live row per task that fits the terminal's width
(:class:`FittedProgress`: the bar shrinks, long text is cut short, then columns drop from the right).
Anywhere else (a log file, a pipe, a batch job) it prints plain lines instead (:class:`LineProgress`):
one every ``every`` items, one at least every minute while something changes, and one when a task ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table
from rich.text import Text

COLUMN_GAP = 1
MIN_BAR_WIDTH = 10
DEFAULT_BAR_WIDTH = 40
MIN_TEXT_WIDTH = 24
LINES_PER_TASK = 10
LINE_INTERVAL_S = 60.0


def _cell(column: str | ProgressColumn, task: Task) -> RenderableType:
    """What ``column`` shows for ``task``."""
    if isinstance(column, str):
        return Text.from_markup(column.format(task=task))
    return column(task)


def _natural_width(column: str | ProgressColumn, cells: Sequence[RenderableType], console: Console) -> int:
    """The width ``column`` takes when nothing is cut: its widest cell (a bar: its own width)."""
    if isinstance(column, BarColumn):
        return column.bar_width or DEFAULT_BAR_WIDTH
    widths = [
        cell.cell_len if isinstance(cell, Text) else Measurement.get(console, console.options, cell).maximum
        for cell in cells
    ]
    return max(widths, default=0)


def fitted_widths(
    columns: Sequence[str | ProgressColumn], natural: Sequence[int], available: int
) -> list[int | None]:
    """The width of each column in a row of ``available`` cells (None: the column is dropped).

    In order, until the row fits: bars shrink to :data:`MIN_BAR_WIDTH`; the widest text columns are cut
    down to :data:`MIN_TEXT_WIDTH` (shown with an ellipsis); bars are dropped; columns are dropped from the
    right (the first one, the description, stays); the first column is cut.
    """
    widths: list[int | None] = list(natural)
    bars = [index for index, column in enumerate(columns) if isinstance(column, BarColumn)]

    def overflow() -> int:
        kept = [width for width in widths if width is not None]
        return sum(kept) + COLUMN_GAP * (len(kept) - 1) - available

    for index in bars:
        width = widths[index]
        if width is not None and overflow() > 0:
            widths[index] = max(MIN_BAR_WIDTH, width - overflow())
    texts = [index for index in range(1, len(columns)) if index not in bars]
    while overflow() > 0:
        long_texts = [index for index in texts if (widths[index] or 0) > MIN_TEXT_WIDTH]
        if not long_texts:
            break
        widest = max(long_texts, key=lambda index: widths[index] or 0)
        width = widths[widest] or 0
        widths[widest] = max(MIN_TEXT_WIDTH, width - overflow())
    for index in bars:
        if overflow() > 0:
            widths[index] = None
    for index in reversed(range(1, len(columns))):
        if overflow() > 0:
            widths[index] = None
    if overflow() > 0:
        widths[0] = max(1, (widths[0] or 0) - overflow())
    return widths


class FittedProgress(Progress):
    """A live progress display whose rows never wrap: see :func:`fitted_widths`."""

    def make_tasks_table(self, tasks: Iterable[Task]) -> Table:
        """The display's table, one row per visible task, fitted to the console's width."""
        if not hasattr(self, "live"):  # Rich renders once while the display is being built
            return super().make_tasks_table(tasks)
        visible = [task for task in tasks if task.visible]
        cells = [[_cell(column, task) for task in visible] for column in self.columns]
        natural = [
            _natural_width(column, column_cells, self.console)
            for column, column_cells in zip(self.columns, cells, strict=True)
        ]
        widths = fitted_widths(self.columns, natural, self.console.width)
        kept = [index for index, width in enumerate(widths) if width is not None]
        table_columns = []
        for index in kept:
            column = self.columns[index]
            table_column = Column() if isinstance(column, str) else column.get_table_column().copy()
            table_column.no_wrap = True
            table_column.overflow = "ellipsis"
            table_column.width = table_column.max_width = widths[index]
            table_columns.append(table_column)
        table = Table.grid(*table_columns, padding=(0, COLUMN_GAP), expand=False)
        for row in range(len(visible)):
            table.add_row(*(cells[index][row] for index in kept))
        return table


class LineProgress(Progress):
    """A progress display for logs and pipes: plain lines instead of a live row.

    A task prints a line (its columns as text, bars and spinners left out) when its count passes a
    multiple of ``every`` (default: a tenth of its total), when a minute has passed since its last line
    and the count has moved, when it completes, and when the display stops.
    """

    def __init__(
        self,
        *columns: str | ProgressColumn,
        console: Console,
        every: int | None = None,
        interval_s: float = LINE_INTERVAL_S,
    ):
        super().__init__(*columns, console=console, disable=True)
        self.every = every
        self.interval_s = interval_s
        self._last_lines: dict[TaskID, tuple[float, float]] = {}

    def update(
        self,
        task_id: TaskID,
        *,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        description: str | None = None,
        visible: bool | None = None,
        refresh: bool = False,
        **fields: Any,
    ) -> None:
        """Update the task (see :meth:`rich.progress.Progress.update`) and print a line when one is due."""
        super().update(
            task_id,
            total=total,
            completed=completed,
            advance=advance,
            description=description,
            visible=visible,
            refresh=refresh,
            **fields,
        )
        self._print_if_due(task_id, final=False)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        """Advance the task and print a line when one is due."""
        super().advance(task_id, advance)
        self._print_if_due(task_id, final=False)

    def stop(self) -> None:
        """Print the last state of every task whose last line does not show it."""
        for task_id in list(self._tasks):
            self._print_if_due(task_id, final=True)
        super().stop()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop; after an error or an interrupt, without the last lines (the error is what matters)."""
        if exc_type is not None:
            self._last_lines.update({task_id: (task.completed, 0.0) for task_id, task in self._tasks.items()})
        super().__exit__(exc_type, exc_value, traceback)

    def line(self, task: Task) -> str:
        """The task's columns as one plain line (bars and spinners left out)."""
        parts = []
        for column in self.columns:
            if isinstance(column, BarColumn | SpinnerColumn):
                continue
            cell = _cell(column, task)
            text = cell.plain if isinstance(cell, Text) else str(cell)
            if text.strip():
                parts.append(" ".join(text.split()))
        return " ".join(parts)

    def _print_if_due(self, task_id: TaskID, final: bool) -> None:
        task = self._tasks[task_id]
        now = self.get_time()
        last_completed, last_time = self._last_lines.get(task_id, (-1.0, task.start_time or now))
        if task.completed == last_completed or not task.visible:
            return
        every = self.every or (max(1, math.ceil(task.total / LINES_PER_TASK)) if task.total else None)
        due = (
            final
            or (task.total is not None and task.completed >= task.total)
            or (every is not None and task.completed // every > max(last_completed, 0) // every)
            or now - last_time >= self.interval_s
        )
        if due:
            self._last_lines[task_id] = (task.completed, now)
            self.console.print(self.line(task), markup=False, highlight=False, soft_wrap=True)


def progress_display(
    *columns: str | ProgressColumn,
    console: Console | None = None,
    transient: bool = True,
    disable: bool = False,
    every: int | None = None,
) -> Progress:
    """A progress display of ``columns``: fitted live rows on a terminal, plain lines elsewhere.

    Args:
        columns: the columns of each task's row.
        console: where it is drawn (default: standard error).
        transient: remove the live rows when the display stops (terminal only).
        disable: draw nothing (e.g. on every process but rank 0).
        every: with plain lines, print one every this many items (default: a tenth of the total).
    """
    console = console if console is not None else Console(stderr=True)
    if disable:
        return Progress(*columns, console=console, disable=True)
    if not console.is_interactive:
        return LineProgress(*columns, console=console, every=every)
    return FittedProgress(*columns, console=console, transient=transient)


def progress_bar(
    description: str,
    *columns: ProgressColumn,
    console: Console | None = None,
    transient: bool = True,
    disable: bool = False,
    every: int | None = None,
) -> Progress:
    """A bar that counts: ``description``, the bar and ``done/total``, then ``columns``.

    On a terminal the row fits its width; elsewhere plain lines replace it (see :func:`progress_display`).

    Args:
        description: the first column's text (Rich markup; ``{task.description}`` shows the task's).
        columns: further columns, e.g. a ``TextColumn`` of a task field or the remaining time.
        console: where it is drawn (default: standard error).
        transient: remove the display when it stops.
        disable: draw nothing (e.g. on every process but rank 0).
        every: with plain lines, print one every this many items (default: a tenth of the total).
    """
    return progress_display(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        *columns,
        console=console,
        transient=transient,
        disable=disable,
        every=every,
    )


def timed_progress_bar(description: str, console: Console | None = None) -> Progress:
    """The bar most commands draw: :func:`progress_bar` with the elapsed time, removed when done."""
    return progress_bar(description, TimeElapsedColumn(), console=console)


def spinner(description: str) -> Progress:
    """A spinner with the elapsed time on standard error, for one long call of unknown length."""
    return progress_display(SpinnerColumn(), TextColumn(description), TimeElapsedColumn())

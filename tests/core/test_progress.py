"""Progress displays: rows that fit narrow terminals, plain lines in logs and pipes."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from instanceformer.core.runtime.progress import (
    FittedProgress,
    LineProgress,
    fitted_widths,
    progress_bar,
    spinner,
)
from instanceformer.infer.progress import inference_progress
from instanceformer.train.progress import TrainingProgress

LOSSES = {
    "total": 1.234,
    "class": 0.5,
    "box_l1": 0.2,
    "box_giou": 0.3,
    "mask_focal": 0.1,
    "mask_dice": 0.2,
    "contrastive": 0.1,
}


def _terminal(width: int) -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    console = Console(
        file=stream, width=width, force_terminal=True, force_interactive=True, color_system=None
    )
    return console, stream


def _last_frame(stream: io.StringIO) -> str:
    """The last row drawn on the terminal, without control sequences."""
    text = stream.getvalue().replace("\x1b[?25l", "").replace("\x1b[?25h", "")
    return text.split("\r\x1b[2K")[-1].rstrip("\n")


@pytest.mark.parametrize("width", [80, 60, 40])
def test_the_training_bar_fits_narrow_terminals(width: int) -> None:
    console, stream = _terminal(width)
    bar = TrainingProgress(100, 0, True, console=console)
    assert isinstance(bar.progress, FittedProgress)
    with bar:
        bar.update(5, 1, LOSSES, {"other": 1e-4}, 3.2)
        bar.progress.refresh()
    row = _last_frame(stream)
    assert "\n" not in row and len(row) <= width
    assert row.startswith("train") and "5/100" in row


def test_at_80_columns_the_loss_terms_are_cut_first() -> None:
    console, stream = _terminal(80)
    bar = TrainingProgress(100, 0, True, console=console)
    with bar:
        bar.update(5, 1, LOSSES, {"other": 1e-4}, 3.2)
        bar.progress.refresh()
    row = _last_frame(stream)
    for kept in ("train", "5/100", "epoch 1", "loss 1.234", "lr 1.00e-04", "eta"):
        assert kept in row, row
    assert "mask_dice" not in row and "…" in row


def test_a_wide_terminal_shows_everything() -> None:
    console, stream = _terminal(220)
    bar = TrainingProgress(100, 0, True, console=console)
    with bar:
        bar.update(5, 1, LOSSES, {"other": 1e-4}, 3.2)
        bar.progress.refresh()
    row = _last_frame(stream)
    assert "contrastive 0.100" in row and "━" in row and "…" not in row


def test_fitted_widths_shrink_the_bar_then_cut_text_then_drop_columns() -> None:
    columns = [TextColumn("a"), BarColumn(), TextColumn("b"), TextColumn("c")]
    assert fitted_widths(columns, [5, 40, 30, 10], 200) == [5, 40, 30, 10]
    assert fitted_widths(columns, [5, 40, 30, 10], 70) == [5, 22, 30, 10]
    assert fitted_widths(columns, [5, 40, 30, 10], 60) == [5, 12, 30, 10]
    assert fitted_widths(columns, [5, 40, 30, 10], 42) == [5, None, 24, 10]
    assert fitted_widths(columns, [5, 40, 30, 10], 20) == [5, None, None, None]
    assert fitted_widths(columns, [5, 40, 30, 10], 3) == [3, None, None, None]


def test_in_a_log_the_training_bar_prints_plain_lines() -> None:
    stream = io.StringIO()
    bar = TrainingProgress(1000, 0, True, console=Console(file=stream, width=80))
    assert isinstance(bar.progress, LineProgress)
    with bar:
        for step in range(1, 1001):
            bar.update(step, 1 + step // 500, {"total": 1.0, "class": 0.5}, {"other": 1e-4}, 3.2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 100  # one every 10 steps, the last at step 1000
    assert lines[0].startswith("train 10/1000 epoch 1 loss 1.000 lr 1.00e-04 3.20 samples/s (class 0.500)")
    assert lines[-1].startswith("train 1000/1000 epoch 3")
    assert all("\x1b" not in line and "━" not in line for line in lines)


def test_in_a_log_a_counting_bar_prints_a_tenth_at_a_time() -> None:
    stream = io.StringIO()
    with progress_bar("[bold]{task.description}", console=Console(file=stream)) as bar:
        task = bar.add_task("frames", total=50)
        for _ in range(50):
            bar.advance(task)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [f"{done}/50" for done in range(5, 51, 5)]
    assert all(line.startswith("frames ") for line in lines)


def test_in_a_log_every_sets_the_interval_and_unknown_totals_print_at_the_end() -> None:
    stream = io.StringIO()
    with progress_bar("{task.description}", console=Console(file=stream), every=3) as bar:
        task = bar.add_task("videos", total=None)
        for done in range(1, 8):
            bar.update(task, completed=done)
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == ["3/?", "6/?", "7/?"]


def test_a_failed_command_prints_no_last_progress_line() -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError), progress_bar("{task.description}", console=Console(file=stream)) as bar:
        task = bar.add_task("frames", total=None)
        bar.update(task, completed=3)
        raise RuntimeError("the command failed")
    assert stream.getvalue() == ""


def test_disabled_and_spinner_displays(monkeypatch: pytest.MonkeyPatch) -> None:
    assert type(progress_bar("x", disable=True)) is Progress
    assert isinstance(spinner("projecting"), LineProgress)  # standard error is not a terminal here
    assert isinstance(inference_progress("inferring videos"), LineProgress)

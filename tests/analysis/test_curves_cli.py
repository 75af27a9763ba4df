"""``ifm-analysis curves``: metrics.jsonl of run folders, nested and missing keys, several runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instanceformer.analysis.cli import app
from instanceformer.analysis.curves import read_run_curves, select_series
from instanceformer.core.cli import run_app

from .helpers import decoded_png


def _write_metrics(folder: Path, scale: float) -> Path:
    """A run folder's metrics.jsonl as the trainer writes it: train, validation and epoch records."""
    folder.mkdir(parents=True)
    records = []
    for step in range(1, 21):
        loss = {"class": scale / step, "class_0": 1.5 * scale / step, "mask_dice": 2.0 * scale / step}
        loss["total"] = sum(loss.values())
        lr = {"backbone": 1e-5, "other": 1e-4 if step < 15 else 1e-5}
        records.append(
            {"kind": "train", "step": step, "epoch": 0, "loss": loss, "lr": lr, "samples_per_s": 3.0}
        )
        if step % 10 == 0:
            records.append({"kind": "validation", "step": step, "epoch": 0, "AP": 0.01 * step, "APm": -1.0})
    records.append({"kind": "epoch", "step": 20, "epoch": 1})
    lines = [json.dumps(record) for record in records]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + '\n{"kind": "train", "st')  # a crash mid-line
    return folder


def test_series_are_flattened_and_grouped(tmp_path: Path) -> None:
    curves = read_run_curves(_write_metrics(tmp_path / "run", 1.0))
    assert curves.name == "run"
    assert curves.series["loss/class"][0] == [float(step) for step in range(1, 21)]
    assert curves.series["AP"] == ([10.0, 20.0], [0.1, 0.2])
    assert "APm" not in curves.series  # -1 marks "not available"
    assert curves.panels["loss/total"] == "loss" and curves.panels["lr/other"] == "lr"
    assert curves.panels["AP"] == "validation" and curves.panels["samples_per_s"] == "other"
    assert "step" not in curves.series and "epoch" not in curves.series
    default = select_series(sorted(curves.series), [])
    assert "loss/class_0" not in default and "loss/class" in default
    assert select_series(sorted(curves.series), ["loss/class*"]) == ["loss/class", "loss/class_0"]


def test_two_runs_overlaid_in_one_figure(tmp_path: Path) -> None:
    first, second = _write_metrics(tmp_path / "a", 1.0), _write_metrics(tmp_path / "b", 2.0)
    out = tmp_path / "curves.png"
    assert run_app(app, ["curves", str(first), str(second / "metrics.jsonl"), "--out", str(out)]) == 0
    assert decoded_png(out).shape[:2] == (840, 1500)  # 2 x 2 panels of 7.5 x 4.2 inches
    only_lr = tmp_path / "lr.png"
    assert run_app(app, ["curves", str(first), "--out", str(only_lr), "--series", "lr/*"]) == 0
    assert decoded_png(only_lr).shape[:2] == (420, 750)  # one panel


def test_records_without_step_use_their_position(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"accuracy": 0.5}\n{"accuracy": 0.7, "note": "text"}\n')
    curves = read_run_curves(path)
    assert curves.name == "log" and curves.series == {"accuracy": ([0.0, 1.0], [0.5, 0.7])}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such metrics file"),
        ('{"kind": "train"}\n', "found no series to plot"),
        ('{"step": 1}\nnot json\n{"step": 2}\n', "line 2"),
    ],
)
def test_bad_metrics_exit_with_one_line(tmp_path: Path, capsys, content: str | None, message: str) -> None:
    path = tmp_path / "metrics.jsonl"
    if content is not None:
        path.write_text(content)
    assert run_app(app, ["curves", str(path), "--out", str(tmp_path / "c.png")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error
    assert not (tmp_path / "c.png").exists()


def test_an_unmatched_series_pattern_lists_the_series(tmp_path: Path, capsys) -> None:
    run = _write_metrics(tmp_path / "run", 1.0)
    assert run_app(app, ["curves", str(run), "--out", str(tmp_path / "c.png"), "--series", "mAP*"]) == 2
    assert "no series matches mAP*" in capsys.readouterr().err

"""``ifm-train loader-speed``: the training loader's throughput table."""

from __future__ import annotations

from pathlib import Path

import pytest

from instanceformer.core.cli import run_app
from instanceformer.train.cli import app


def test_loader_speed_prints_one_row_per_worker_count(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_app(
        app,
        [
            "loader-speed",
            "--set",
            f"data.root={data_root}",
            "--set",
            "data.dataset=synth",
            "--set",
            "data.train_min_sizes=[64]",
            "--set",
            "data.train_max_size=96",
            "--workers",
            "0",
            "--workers",
            "1",
            "--batches",
            "2",
        ],
    )
    assert status == 0
    table = capsys.readouterr().out
    assert "Training clip loader throughput" in table
    rows = [
        line for line in table.splitlines() if "x" in line and line.strip("│┃ ").split()[:1] in (["0"], ["1"])
    ]
    assert [row.strip("│┃ ").split()[0] for row in rows] == ["0", "1"]
    assert "1.00x" in rows[0]


def test_loader_speed_refuses_a_bad_override(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(app, ["loader-speed", "--set", "data.num_frames=zero"]) == 2
    assert "data.num_frames" in capsys.readouterr().err

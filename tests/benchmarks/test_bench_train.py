"""``make bench-train``: the rows it plans, one real probe run, and the table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset
from tests.benchmarks.bench_train import Measurement, Plan, plans, render_table, run_probe


def test_plans_put_the_tiny_rows_first_and_add_cuda_rows_only_when_asked(tmp_path: Path) -> None:
    rows = plans([1, 2], include_r50=True, cuda=False, weights=tmp_path / "w.pth")
    assert [(row.preset, row.device, row.threads) for row in rows] == [
        ("tiny-cpu", "cpu", 1),
        ("tiny-cpu", "cpu", 2),
        ("r50-ytvis21", "cpu", 1),
        ("r50-ytvis21", "cpu", 2),
    ]
    assert all(f"model.backbone.weights={tmp_path / 'w.pth'}" in row.overrides for row in rows[2:])
    with_cuda = plans([2], include_r50=False, cuda=True, weights=tmp_path / "w.pth")
    assert [(row.device, row.threads) for row in with_cuda] == [("cpu", 2), ("cuda", None)]


def test_a_probe_run_reports_step_times_and_operator_calls(tmp_path: Path) -> None:
    spec = SynthSpec(train_videos=3, valid_videos=1, num_frames=6, height=64, width=96, seed=1)
    generate_synthetic_dataset(tmp_path / "data" / "synth", spec)
    overrides = (
        "train.device=cpu",
        "data.train_min_sizes=[64]",
        "data.train_max_size=96",
        "train.batch_size=2",
        "train.total_batch_size=2",
    )
    plan = Plan("tiny-cpu", "cpu", 1, overrides, warmup=1, measured=2)
    measurement = run_probe(plan, tmp_path / "data", tmp_path)
    assert measurement.clips_per_step == 2
    assert len(measurement.step_seconds) == 2 and all(seconds > 0 for seconds in measurement.step_seconds)
    assert measurement.operator_calls > 500
    assert measurement.clips_per_second == 2 / measurement.median_step_s


def test_the_table_gives_each_row_its_ratio_to_the_first_row_of_its_preset() -> None:
    tiny = Plan("tiny-cpu", "cpu", 1, (), 1, 1)
    rows = [
        Measurement(tiny, 4, (1.0, 1.0), 4700),
        Measurement(Plan("tiny-cpu", "cpu", 2, (), 1, 1), 4, (0.5,), 4700),
        Measurement(Plan("r50-ytvis21", "cpu", 1, (), 1, 1), 1, (3.0,), 9000),
    ]
    console = Console(width=160, record=True)
    console.print(render_table(rows))
    text = console.export_text()
    assert "2.00x" in text and "4,700" in text and "9,000" in text
    assert text.count("1.00x") == 2

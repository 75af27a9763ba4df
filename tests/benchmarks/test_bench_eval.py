"""The evaluator benchmark (``make bench-eval``): its table on a small case, processes included."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests.benchmarks.bench_eval import run_benchmark
from tests.support.evaluation_cases import EvaluationCaseSpec
from tests.support.trackeval_reference import TRACKEVAL_METRICS

pytest.importorskip("trackeval")

TIME_ROWS = [
    "time: load files, prepare ground truth (s)",
    "time: evaluate results (s)",
    "time: total, end to end (s)",
    "time: whole process, fastest (s)",
    "time: whole process, median (s)",
]


def test_the_table_shows_both_times_their_ratio_and_equal_metrics() -> None:
    spec = EvaluationCaseSpec(
        num_videos=3,
        num_frames=3,
        height=60,
        width=80,
        predictions_per_video=4,
        unknown_category_probability=0.0,
    )
    table = run_benchmark(spec, 4, Console(file=io.StringIO()), repeats=2, process_repeats=1)
    rows = list(zip(*(column.cells for column in table.columns), strict=True))
    assert [row[0] for row in rows[: len(TIME_ROWS)]] == TIME_ROWS
    for _, ours, reference, ratio in rows[: len(TIME_ROWS)]:
        assert float(ours) >= 0 and float(reference) >= 0 and float(ratio.removesuffix("x")) > 0
    assert [row[0] for row in rows[len(TIME_ROWS) :]] == list(TRACKEVAL_METRICS)
    for _, ours, reference, difference in rows[len(TIME_ROWS) :]:
        assert ours == reference and float(difference) < 1e-9

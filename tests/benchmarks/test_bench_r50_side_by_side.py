"""``make bench-r50``: the synthetic clip, the interleaved timing and the table's ratios (no R50 is built)."""

from __future__ import annotations

import argparse

import pytest
from rich.console import Console

from tests.benchmarks.bench_r50_side_by_side import (
    FRAME,
    HUGGING_FACE,
    NUM_INSTANCES,
    OURS,
    TRAIN,
    Case,
    Timing,
    parse_size,
    ratios_to_ours,
    render_table,
    synthetic_clip,
    time_interleaved,
)


def test_the_synthetic_clip_has_one_box_per_mask_in_every_frame_and_is_padded_as_asked() -> None:
    batch = synthetic_clip(num_frames=3, height=48, width=80, num_classes=2, size_divisibility=32)
    assert batch.images.shape == (1, 3, 3, 64, 96)
    assert not batch.padding_mask[0, :48, :80].any() and batch.padding_mask[0, 48:].all()
    assert not batch.images[..., 48:, :].any() and not batch.images[..., 80:].any()
    (targets,) = batch.targets
    assert targets.masks.shape == (3, NUM_INSTANCES, 48, 80) and bool(targets.present.all())
    assert int(targets.labels.max()) < 2
    for frame in range(3):
        for instance in range(NUM_INSTANCES):
            rows, columns = targets.masks[frame, instance].nonzero(as_tuple=True)
            centre_x = (float(columns.min()) + float(columns.max()) + 1) / 2 / 80
            centre_y = (float(rows.min()) + float(rows.max()) + 1) / 2 / 48
            assert targets.boxes[frame, instance, :2].tolist() == pytest.approx([centre_x, centre_y])


def test_the_cases_run_interleaved_and_the_warm_up_round_is_not_timed() -> None:
    calls: list[str] = []
    cases = [
        Case(TRAIN, OURS, "x", lambda: calls.append("a")),
        Case(FRAME, OURS, "y", lambda: calls.append("b")),
    ]
    timings = time_interleaved(cases, rounds=2, warmup=1)
    assert calls == ["a", "b"] * 3
    assert [(len(timing.seconds), len(timing.cpu_seconds)) for timing in timings] == [(2, 2), (2, 2)]


def test_the_table_gives_our_time_over_theirs_and_the_frame_verdict() -> None:
    timings = [
        Timing(TRAIN, OURS, "clip", (10.0, 12.0), (9.0, 9.5)),
        Timing(FRAME, OURS, "frame", (1.0, 1.2, 1.4), (0.9, 1.0, 1.1)),
        Timing(FRAME, HUGGING_FACE, "frame", (4.0, 4.0, 4.0), (3.5, 3.5, 3.5)),
    ]
    assert ratios_to_ours(timings) == {(FRAME, HUGGING_FACE): (0.25, 0.3)}
    console = Console(width=200, record=True)
    console.print(render_table(timings, threads=1, loads={"start": 1.5, "end": 2.0}))
    text = console.export_text()
    assert "0.25x" in text and "0.30x (ok)" in text and "9.250" in text and "start 1.50, end 2.00" in text


def test_sizes_parse_as_height_by_width() -> None:
    assert parse_size("360x640") == (360, 640)
    for text in ("360", "16x640", "ax640"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_size(text)

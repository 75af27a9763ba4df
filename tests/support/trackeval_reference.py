"""The independent reference the evaluator is checked against: the ``trackeval`` package's YouTube-VIS.

trackeval is configured as the YouTube-VIS metric: ``TrackMAP`` with time ranges off, the area ranges
``[0, 128^2]``, ``[128^2, 256^2]``, ``[256^2, 1e10]`` and 100 detections per video and category; it then
reproduces AP, AP50, AP75, APs/m/l and AR100 (and ARs/m/l). Two details of trackeval are worked around,
neither a difference of definition: its track ids start at 0 and a ground-truth track matched by id 0
looks unmatched (``gt_m > 0``), so its counter is started at 1; and its crowd tracks can be matched once
only, where the official code lets them absorb any number of predictions, so comparisons use predictions
that overlap a crowd track at most once (the evaluation cases never duplicate a crowd detection).

``python -m tests.support.trackeval_reference TRUTH_FOLDER TRACKERS_FOLDER`` (from the repository root)
evaluates folders laid out by :func:`lay_out_trackeval_folders` in a process of its own and prints the
metrics as one JSON line: what ``make bench-eval`` times against the ``ifm-infer evaluate`` process. The
module imports nothing of the toolkit, so that process loads trackeval and what it needs only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

TRACKEVAL_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100", "ARs", "ARm", "ARl")
SPLIT = "bench"
TRACKER = "toolkit"
AREA_RANGES = [[0, 128**2], [128**2, 256**2], [256**2, 1e5**2]]


class TrackevalFolders(NamedTuple):
    """trackeval's YouTube-VIS layout: the ground-truth folder and the trackers folder."""

    truth: Path
    trackers: Path


class TrackevalRun(NamedTuple):
    """trackeval's metrics (:data:`TRACKEVAL_METRICS`) and the seconds of its two phases."""

    metrics: dict[str, float]
    load_seconds: float
    evaluate_seconds: float


def import_trackeval() -> Any:
    """The trackeval package (ImportError with the install hint when it is missing)."""
    try:
        import trackeval
    except ImportError:
        raise ImportError(
            "the reference evaluation needs the 'trackeval' package: pip install -r requirements-dev.txt"
        ) from None
    return trackeval


def lay_out_trackeval_folders(annotation_path: Path, results_path: Path, workdir: Path) -> TrackevalFolders:
    """Copy an annotation file and a results file into trackeval's YouTube-VIS layout under ``workdir``.

    trackeval reads a track's frame size from the track itself, so ``height``/``width`` are added where
    the annotation file lacks them.
    """
    payload = json.loads(annotation_path.read_text(encoding="utf-8"))
    sizes = {video["id"]: (video["height"], video["width"]) for video in payload["videos"]}
    for track in payload["annotations"]:
        track.setdefault("height", sizes[track["video_id"]][0])
        track.setdefault("width", sizes[track["video_id"]][1])
    folders = TrackevalFolders(workdir / "gt", workdir / "trackers")
    (folders.truth / f"youtube_vis_{SPLIT}").mkdir(parents=True, exist_ok=True)
    (folders.truth / f"youtube_vis_{SPLIT}" / "annotations.json").write_text(
        json.dumps(payload), encoding="utf-8"
    )
    tracker_data = folders.trackers / f"youtube_vis_{SPLIT}" / TRACKER / "data"
    tracker_data.mkdir(parents=True, exist_ok=True)
    (tracker_data / "results.json").write_bytes(results_path.read_bytes())
    return folders


def _timed(function: Callable[..., Any], *arguments: Any) -> tuple[Any, float]:
    """``function(*arguments)`` and its wall time in seconds."""
    start = time.perf_counter()
    value = function(*arguments)
    return value, time.perf_counter() - start


def evaluator_config() -> dict[str, Any]:
    """A fresh configuration of ``trackeval.Evaluator``: one process, no printing, no files written
    (trackeval fills its defaults into the dict it is given)."""
    return {
        "USE_PARALLEL": False,
        "BREAK_ON_ERROR": True,
        "LOG_ON_ERROR": None,
        "PRINT_RESULTS": False,
        "PRINT_CONFIG": False,
        "TIME_PROGRESS": False,
        "OUTPUT_SUMMARY": False,
        "OUTPUT_DETAILED": False,
        "PLOT_CURVES": False,
    }


def dataset_config(folders: TrackevalFolders) -> dict[str, Any]:
    """A fresh configuration of ``trackeval.datasets.YouTubeVIS`` that reads the laid-out folders."""
    return {
        "GT_FOLDER": f"{folders.truth}/",
        "TRACKERS_FOLDER": f"{folders.trackers}/",
        "SPLIT_TO_EVAL": SPLIT,
        "TRACKERS_TO_EVAL": [TRACKER],
        "PRINT_CONFIG": False,
    }


def run_trackeval(folders: TrackevalFolders) -> TrackevalRun:
    """Evaluate laid-out folders with trackeval; its own printing is captured and discarded.

    The load phase is the dataset's construction (both files read), the evaluate phase the rest.
    """
    trackeval = import_trackeval()
    metric_config = {
        "USE_TIME_RANGES": False,
        "USE_AREA_RANGES": True,
        "AREA_RANGES": AREA_RANGES,
        "MAX_DETECTIONS": 100,
        "PRINT_CONFIG": False,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        dataset, load_seconds = _timed(trackeval.datasets.YouTubeVIS, dataset_config(folders))
        dataset.global_tid_counter = 1
        metric = trackeval.metrics.TrackMAP(metric_config)
        evaluator = trackeval.Evaluator(evaluator_config())
        (output, _), evaluate_seconds = _timed(evaluator.evaluate, [dataset], [metric])
    combined = output[dataset.get_name()][TRACKER]["COMBINED_SEQ"]["cls_comb_cls_av"]["TrackMAP"]
    return TrackevalRun(_trackeval_summary(combined), load_seconds, evaluate_seconds)


def trackeval_metrics(annotation_path: Path, results_path: Path, workdir: Path) -> dict[str, float]:
    """Evaluate results with trackeval's YouTube-VIS dataset and TrackMAP metric (YTVIS settings).

    ``workdir`` receives trackeval's folder layout. Returns the numbers of :data:`TRACKEVAL_METRICS` as
    fractions (-1 where undefined).
    """
    return run_trackeval(lay_out_trackeval_folders(annotation_path, results_path, workdir)).metrics


def _mean_defined(values: np.ndarray) -> float:
    """Mean of per-threshold values, -1 when they are undefined (trackeval marks them -1)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if (values > -1).all() else -1.0


def _trackeval_summary(combined: dict[str, np.ndarray]) -> dict[str, float]:
    """Our summary names from trackeval's per-threshold, class-averaged TrackMAP arrays ``[10]``."""
    ap_all = np.asarray(combined["AP_all"], dtype=np.float64)  # [num_iou_thresholds]
    summary = {
        "AP": _mean_defined(ap_all),
        "AP50": float(ap_all[0]),
        "AP75": float(ap_all[5]),
        "AR100": _mean_defined(combined["AR_all"]),
    }
    for suffix, label in (("s", "area_s"), ("m", "area_m"), ("l", "area_l")):
        summary[f"AP{suffix}"] = _mean_defined(combined[f"AP_{label}"])
        summary[f"AR{suffix}"] = _mean_defined(combined[f"AR_{label}"])
    return {name: summary[name] for name in TRACKEVAL_METRICS}


def main(argv: Sequence[str] | None = None) -> None:
    """Evaluate laid-out folders and print the metrics as one JSON line."""
    parser = argparse.ArgumentParser(description="trackeval's YouTube-VIS evaluation of laid-out folders.")
    parser.add_argument("truth_folder", type=Path, help="the ground-truth folder of the layout")
    parser.add_argument("trackers_folder", type=Path, help="the trackers folder of the layout")
    arguments = parser.parse_args(argv)
    run = run_trackeval(TrackevalFolders(arguments.truth_folder, arguments.trackers_folder))
    print(json.dumps(run.metrics))


if __name__ == "__main__":
    main()

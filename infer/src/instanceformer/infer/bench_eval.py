"""Benchmark of the evaluator against the independent implementation in the ``trackeval`` package.

Run as ``python -m instanceformer.infer.bench_eval`` (``make bench-eval``). It writes a seeded synthetic
ground truth (uncompressed RLE, as the real files) and noisy predictions to a temporary folder, then
evaluates them from the files with both implementations and prints one table: the time of each (file
loading included for both, the total being the fastest complete run), their ratio, and the metrics side
by side.

trackeval is configured as the YouTube-VIS metric: ``TrackMAP`` with time ranges off, the area ranges
``[0, 128^2]``, ``[128^2, 256^2]``, ``[256^2, 1e10]`` and 100 detections per video and category; it then
reproduces AP, AP50, AP75, APs/m/l and AR100 (and ARs/m/l). Two details of trackeval are worked around,
neither a difference of definition: its track ids start at 0 and a ground-truth track matched by id 0
looks unmatched (``gt_m > 0``), so its counter is started at 1; and its crowd tracks can be matched once
only, where the official code lets them absorb any number of predictions, so comparisons use predictions
that overlap a crowd track at most once (the synthetic generator never duplicates a crowd detection).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from instanceformer.core.errors import UserError
from instanceformer.core.formats import load_annotations, load_results, write_annotations, write_results_json
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.metrics import evaluate_results, prepare_ground_truth
from instanceformer.core.metrics.synthetic import SyntheticSpec, synthetic_evaluation_case

TRACKEVAL_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100", "ARs", "ARm", "ARl")
_SPLIT = "bench"
_TRACKER = "toolkit"
_AREA_RANGES = [[0, 128**2], [128**2, 256**2], [256**2, 1e5**2]]


def _import_trackeval() -> Any:
    """The trackeval package (UserError with the install hint when it is missing)."""
    try:
        import trackeval
    except ImportError:
        raise UserError(
            "the benchmark needs the 'trackeval' package: pip install -r requirements-dev.txt"
        ) from None
    return trackeval


def _lay_out_trackeval_folders(annotation_path: Path, results_path: Path, workdir: Path) -> tuple[Path, Path]:
    """Copy the files into trackeval's YouTube-VIS folder layout; return (gt folder, trackers folder).

    trackeval reads a track's frame size from the track itself, so ``height``/``width`` are added where
    the annotation file lacks them.
    """
    payload = json.loads(annotation_path.read_text(encoding="utf-8"))
    sizes = {video["id"]: (video["height"], video["width"]) for video in payload["videos"]}
    for track in payload["annotations"]:
        track.setdefault("height", sizes[track["video_id"]][0])
        track.setdefault("width", sizes[track["video_id"]][1])
    truth_folder = workdir / "gt"
    trackers_folder = workdir / "trackers"
    (truth_folder / f"youtube_vis_{_SPLIT}").mkdir(parents=True, exist_ok=True)
    (truth_folder / f"youtube_vis_{_SPLIT}" / "annotations.json").write_text(
        json.dumps(payload), encoding="utf-8"
    )
    tracker_data = trackers_folder / f"youtube_vis_{_SPLIT}" / _TRACKER / "data"
    tracker_data.mkdir(parents=True, exist_ok=True)
    (tracker_data / "results.json").write_bytes(results_path.read_bytes())
    return truth_folder, trackers_folder


def _run_trackeval(
    annotation_path: Path, results_path: Path, workdir: Path
) -> tuple[dict[str, float], float, float]:
    """trackeval's metrics with the seconds spent loading (dataset construction) and evaluating."""
    trackeval = _import_trackeval()
    truth_folder, trackers_folder = _lay_out_trackeval_folders(annotation_path, results_path, workdir)
    evaluator_config = {
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
    dataset_config = {
        "GT_FOLDER": f"{truth_folder}/",
        "TRACKERS_FOLDER": f"{trackers_folder}/",
        "SPLIT_TO_EVAL": _SPLIT,
        "TRACKERS_TO_EVAL": [_TRACKER],
        "PRINT_CONFIG": False,
    }
    metric_config = {
        "USE_TIME_RANGES": False,
        "USE_AREA_RANGES": True,
        "AREA_RANGES": _AREA_RANGES,
        "MAX_DETECTIONS": 100,
        "PRINT_CONFIG": False,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        dataset, load_seconds = _timed(trackeval.datasets.YouTubeVIS, dataset_config)
        dataset.global_tid_counter = 1
        metric = trackeval.metrics.TrackMAP(metric_config)
        evaluator = trackeval.Evaluator(evaluator_config)
        (output, _), evaluate_seconds = _timed(evaluator.evaluate, [dataset], [metric])
    combined = output[dataset.get_name()][_TRACKER]["COMBINED_SEQ"]["cls_comb_cls_av"]["TrackMAP"]
    return _trackeval_summary(combined), load_seconds, evaluate_seconds


def trackeval_metrics(annotation_path: Path, results_path: Path, workdir: Path) -> dict[str, float]:
    """Evaluate results with trackeval's YouTube-VIS dataset and TrackMAP metric (YTVIS settings).

    ``workdir`` receives trackeval's folder layout. Returns the numbers of :data:`TRACKEVAL_METRICS` as
    fractions (-1 where undefined); trackeval's own printing is captured and discarded.
    """
    return _run_trackeval(annotation_path, results_path, workdir)[0]


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


def _timed(function, *arguments) -> tuple[Any, float]:
    """``function(*arguments)`` and its wall time in seconds."""
    start = time.perf_counter()
    value = function(*arguments)
    return value, time.perf_counter() - start


@paused_garbage_collection()
def _run_toolkit(annotation_path: Path, results_path: Path) -> tuple[dict[str, float], float, float]:
    """The toolkit's metrics with the seconds spent loading (both files, ground truth prepared) and
    evaluating: the steps of :func:`~instanceformer.core.metrics.evaluate_files` (``ifm-infer
    evaluate``), timed one by one, with the garbage collector paused throughout as there."""
    start = time.perf_counter()
    truth = prepare_ground_truth(load_annotations(annotation_path))
    results = load_results(results_path)
    loaded = time.perf_counter()
    metrics = evaluate_results(results, truth, source=str(results_path))
    return metrics, loaded - start, time.perf_counter() - loaded


def _phase_row(table: Table, phase: str, ours: float, reference: float) -> None:
    """One timing row: seconds of each and trackeval's time over ours."""
    table.add_row(f"time: {phase} (s)", f"{ours:.2f}", f"{reference:.2f}", f"{reference / ours:.1f}x")


def _fastest(runs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Fastest load phase, fastest evaluate phase and fastest total (load + evaluate of one run)."""
    return min(run[0] for run in runs), min(run[1] for run in runs), min(run[0] + run[1] for run in runs)


def run_benchmark(spec: SyntheticSpec, seed: int, console: Console, repeats: int = 3) -> Table:
    """Generate the case, evaluate it with both implementations and return the comparison table.

    Each implementation runs ``repeats`` times, alternating, each run from the files on disk and after a
    full garbage collection (so that neither inherits the other's garbage); every phase reports its
    fastest run and the total the fastest end-to-end run.
    """
    with console.status("generating synthetic ground truth and predictions"):
        dataset, results = synthetic_evaluation_case(seed, spec)
    our_runs: list[tuple[float, float]] = []
    reference_runs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="ifm-bench-eval-") as folder:
        workdir = Path(folder)
        annotation_path = write_annotations(dataset, workdir / "instances.json")
        results_path = write_results_json(results, workdir / "results.json")
        for repeat in range(repeats):
            with console.status(f"evaluating with the toolkit ({repeat + 1}/{repeats})"):
                gc.collect()
                ours, load_seconds, evaluate_seconds = _run_toolkit(annotation_path, results_path)
            our_runs.append((load_seconds, evaluate_seconds))
            with console.status(f"evaluating with trackeval ({repeat + 1}/{repeats})"):
                gc.collect()
                reference, load_seconds, evaluate_seconds = _run_trackeval(
                    annotation_path, results_path, workdir / f"trackeval{repeat}"
                )
            reference_runs.append((load_seconds, evaluate_seconds))
    num_tracks = len(dataset.annotations or ())
    table = Table(
        title=(
            f"Evaluator vs trackeval: {spec.num_videos} videos x {spec.num_frames} frames "
            f"({spec.height}x{spec.width}), {num_tracks} ground-truth tracks, "
            f"{len(results)} predicted tracks; fastest of {repeats} runs"
        )
    )
    table.add_column("quantity")
    table.add_column("toolkit", justify="right")
    table.add_column("trackeval", justify="right")
    table.add_column("ratio (trackeval / toolkit) or |difference|", justify="right")
    our_load, our_evaluate, our_total = _fastest(our_runs)
    reference_load, reference_evaluate, reference_total = _fastest(reference_runs)
    _phase_row(table, "load files, prepare ground truth", our_load, reference_load)
    _phase_row(table, "evaluate results", our_evaluate, reference_evaluate)
    _phase_row(table, "total, end to end", our_total, reference_total)
    for name in TRACKEVAL_METRICS:
        difference = abs(ours[name] - reference[name])
        table.add_row(name, f"{ours[name]:.6f}", f"{reference[name]:.6f}", f"{difference:.1e}")
    return table


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200, help="number of videos (default 200)")
    parser.add_argument("--frames", type=int, default=36, help="frames per video (default 36)")
    parser.add_argument("--predictions", type=int, default=20, help="predicted tracks per video (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each implementation (default 3)")
    arguments = parser.parse_args(argv)
    spec = SyntheticSpec(
        num_videos=arguments.videos,
        num_frames=arguments.frames,
        predictions_per_video=arguments.predictions,
        tracks_per_video=(2, 8),
        num_categories=6,
    )
    console = Console()
    console.print(run_benchmark(spec, arguments.seed, console, max(1, arguments.repeats)))


if __name__ == "__main__":
    main()

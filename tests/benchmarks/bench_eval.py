"""Benchmark of the evaluator against the independent implementation in the ``trackeval`` package.

Run ``python -m tests.benchmarks.bench_eval`` from the repository root (``make bench-eval``). It writes
a seeded evaluation case (:mod:`tests.support.evaluation_cases`: ground truth as uncompressed RLE, as
the real files, and noisy predictions) to a temporary folder and prints one table from one run:

- in process: the time of each implementation evaluating from the files (file loading included for
  both), phase by phase, the total being the fastest complete run;
- whole processes: ``ifm-infer evaluate RESULTS --gt GT`` (the console script next to this Python)
  against ``python -m tests.support.trackeval_reference`` on the same files in trackeval's layout, each
  timed from start to exit (interpreter start and imports included), fastest and median of the repeats;
  the target is trackeval's time over ours of at least :data:`PROCESS_TARGET_RATIO`;
- the metrics of both side by side.

How trackeval is configured as the YouTube-VIS metric: :mod:`tests.support.trackeval_reference`.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from instanceformer.core.formats import load_annotations, load_results, write_annotations, write_results_json
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.metrics import evaluate_results, prepare_ground_truth
from tests.support.evaluation_cases import EvaluationCaseSpec, synthetic_evaluation_case
from tests.support.trackeval_reference import (
    TRACKEVAL_METRICS,
    TrackevalFolders,
    import_trackeval,
    lay_out_trackeval_folders,
    run_trackeval,
)

PROCESS_TARGET_RATIO = 3.0
TABLE_WIDTH = 120
# The folder that holds tests/: the trackeval process starts there to import `tests.support`.
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


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


def evaluate_command(annotation_path: Path, results_path: Path) -> list[str]:
    """``ifm-infer evaluate RESULTS --gt GT`` with the console script of this Python's environment."""
    script = Path(sys.executable).with_name("ifm-infer")
    if not script.is_file():
        script = Path(shutil.which("ifm-infer") or "ifm-infer")
    return [str(script), "evaluate", str(results_path), "--gt", str(annotation_path)]


def trackeval_command(folders: TrackevalFolders) -> list[str]:
    """A fresh Python process that evaluates laid-out folders with trackeval and prints the metrics."""
    return [
        sys.executable,
        "-m",
        "tests.support.trackeval_reference",
        str(folders.truth),
        str(folders.trackers),
    ]


def time_process(command: list[str]) -> tuple[float, str]:
    """Wall seconds of ``command`` from start to exit (run from the repository root) and its output."""
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=REPOSITORY_ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, completed.stdout


def _time_processes(
    ours: list[str], reference: list[str], repeats: int, expected: dict[str, float], console: Console
) -> tuple[list[float], list[float]]:
    """Seconds of ``repeats`` runs of each command, alternating; the reference's metrics must equal
    ``expected`` (so that both processes did the whole work)."""
    our_seconds: list[float] = []
    reference_seconds: list[float] = []
    for repeat in range(repeats):
        with console.status(f"timing the ifm-infer evaluate process ({repeat + 1}/{repeats})"):
            our_seconds.append(time_process(ours)[0])
        with console.status(f"timing the trackeval process ({repeat + 1}/{repeats})"):
            seconds, output = time_process(reference)
        if json.loads(output.strip().splitlines()[-1]) != expected:
            raise RuntimeError("the trackeval process printed other metrics than trackeval in this process")
        reference_seconds.append(seconds)
    return our_seconds, reference_seconds


def _time_row(table: Table, quantity: str, ours: float, reference: float) -> None:
    """One timing row: seconds of each and trackeval's time over ours."""
    table.add_row(f"time: {quantity} (s)", f"{ours:.2f}", f"{reference:.2f}", f"{reference / ours:.1f}x")


def _fastest(runs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Fastest load phase, fastest evaluate phase and fastest total (load + evaluate of one run)."""
    return min(run[0] for run in runs), min(run[1] for run in runs), min(run[0] + run[1] for run in runs)


def run_benchmark(
    spec: EvaluationCaseSpec, seed: int, console: Console, repeats: int = 3, process_repeats: int = 5
) -> Table:
    """Generate the case, time both implementations in process and as processes; the comparison table.

    In process, each implementation runs ``repeats`` times, alternating, each run from the files on
    disk and after a full garbage collection (so that neither inherits the other's garbage); every phase
    reports its fastest run and the total the fastest end-to-end run. Each process runs
    ``process_repeats`` times, alternating.
    """
    with console.status("generating synthetic ground truth and predictions"):
        dataset, results = synthetic_evaluation_case(seed, spec)
    our_runs: list[tuple[float, float]] = []
    reference_runs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="ifm-bench-eval-") as folder:
        workdir = Path(folder)
        annotation_path = write_annotations(dataset, workdir / "instances.json")
        results_path = write_results_json(results, workdir / "results.json")
        folders = lay_out_trackeval_folders(annotation_path, results_path, workdir / "trackeval")
        for repeat in range(repeats):
            with console.status(f"evaluating with the toolkit ({repeat + 1}/{repeats})"):
                gc.collect()
                ours, load_seconds, evaluate_seconds = _run_toolkit(annotation_path, results_path)
            our_runs.append((load_seconds, evaluate_seconds))
            with console.status(f"evaluating with trackeval ({repeat + 1}/{repeats})"):
                gc.collect()
                reference, load_seconds, evaluate_seconds = run_trackeval(folders)
            reference_runs.append((load_seconds, evaluate_seconds))
        our_processes, reference_processes = _time_processes(
            evaluate_command(annotation_path, results_path),
            trackeval_command(folders),
            process_repeats,
            reference,
            console,
        )
    num_tracks = len(dataset.annotations or ())
    table = Table(
        title=(
            f"Evaluator vs trackeval: {spec.num_videos} videos x {spec.num_frames} frames "
            f"({spec.height}x{spec.width}), {num_tracks} ground-truth tracks, "
            f"{len(results)} predicted tracks"
        ),
        caption=(
            f"in process: fastest of {repeats} runs; whole process: `ifm-infer evaluate RESULTS --gt GT` "
            f"vs `python -m tests.support.trackeval_reference`, start to exit, {process_repeats} runs "
            f"(target ratio >= {PROCESS_TARGET_RATIO:.1f}x)"
        ),
    )
    table.add_column("quantity")
    table.add_column("toolkit", justify="right")
    table.add_column("trackeval", justify="right")
    table.add_column("ratio (trackeval / toolkit) or |difference|", justify="right")
    our_load, our_evaluate, our_total = _fastest(our_runs)
    reference_load, reference_evaluate, reference_total = _fastest(reference_runs)
    _time_row(table, "load files, prepare ground truth", our_load, reference_load)
    _time_row(table, "evaluate results", our_evaluate, reference_evaluate)
    _time_row(table, "total, end to end", our_total, reference_total)
    _time_row(table, "whole process, fastest", min(our_processes), min(reference_processes))
    _time_row(
        table,
        "whole process, median",
        statistics.median(our_processes),
        statistics.median(reference_processes),
    )
    for name in TRACKEVAL_METRICS:
        difference = abs(ours[name] - reference[name])
        table.add_row(name, f"{ours[name]:.6f}", f"{reference[name]:.6f}", f"{difference:.1e}")
    return table


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of the benchmark; returns the exit status (2 without trackeval)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_eval", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--videos", type=int, default=200, help="number of videos (default 200)")
    parser.add_argument("--frames", type=int, default=36, help="frames per video (default 36)")
    parser.add_argument("--predictions", type=int, default=20, help="predicted tracks per video (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="in-process runs of each implementation (default 3)"
    )
    parser.add_argument(
        "--process-repeats", type=int, default=5, help="runs of each whole process (default 5)"
    )
    arguments = parser.parse_args(argv)
    spec = EvaluationCaseSpec(
        num_videos=arguments.videos,
        num_frames=arguments.frames,
        predictions_per_video=arguments.predictions,
        tracks_per_video=(2, 8),
        num_categories=6,
        unknown_category_probability=0.0,  # 'ifm-infer evaluate' refuses results the servers refuse
    )
    console = Console()
    if not console.is_terminal:
        console = Console(width=TABLE_WIDTH)
    try:
        import_trackeval()
    except ImportError as error:
        console.print(f"error: {error}")
        return 2
    repeats, process_repeats = max(1, arguments.repeats), max(1, arguments.process_repeats)
    console.print(run_benchmark(spec, arguments.seed, console, repeats, process_repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

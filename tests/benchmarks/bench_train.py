"""``make bench-train``: optimiser steps per second, clips per second and operator calls per step.

Run ``python -m tests.benchmarks.bench_train`` from the repository root. Each row is one training run
of the toolkit's own trainer in a fresh process (:mod:`tests.benchmarks.train_step_probe`) on a small
synthetic dataset written once to a temporary folder: the ``tiny-cpu`` preset and the ``r50-ytvis21``
preset (random backbone weights, a micro-batch of one clip on the CPU), on the CPU at each requested
thread count and on CUDA when a GPU is present. The table gives the median step time of the measured
steps, steps/s, clips/s, the ATen operator calls of one step, and each row's clips/s relative to the
first row of its preset.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DATASET = SynthSpec(train_videos=12, valid_videos=2, num_frames=12, seed=3)
# The R50 preset's published step (16 four-frame clips at 288-512 px) takes minutes on a CPU: the CPU
# rows run micro-batches of one clip, and the CUDA row keeps the preset's batch.
R50_CPU_OVERRIDES = ("train.batch_size=1", "train.total_batch_size=1")


@dataclass(frozen=True)
class Plan:
    """One row: a preset on a device (``threads`` None on CUDA) with its overrides and step counts."""

    preset: str
    device: str
    threads: int | None
    overrides: tuple[str, ...]
    warmup: int
    measured: int


@dataclass(frozen=True)
class Measurement:
    """What a probe process reported for a :class:`Plan`."""

    plan: Plan
    clips_per_step: int
    step_seconds: tuple[float, ...]
    operator_calls: int

    @property
    def median_step_s(self) -> float:
        """The median wall time of the measured steps, in seconds."""
        return statistics.median(self.step_seconds)

    @property
    def clips_per_second(self) -> float:
        """Training clips per second at the median step time."""
        return self.clips_per_step / self.median_step_s


def plans(thread_counts: Sequence[int], include_r50: bool, cuda: bool, weights: Path) -> list[Plan]:
    """The rows to measure, tiny preset first."""
    r50 = ("model.num_classes=6", f"model.backbone.weights={weights}")
    rows: list[Plan] = []
    for threads in thread_counts:
        rows.append(Plan("tiny-cpu", "cpu", threads, ("train.device=cpu",), warmup=3, measured=10))
    if cuda:
        rows.append(Plan("tiny-cpu", "cuda", None, ("train.device=cuda",), warmup=10, measured=40))
    if include_r50:
        for threads in thread_counts:
            overrides = (*r50, *R50_CPU_OVERRIDES, "train.device=cpu")
            rows.append(Plan("r50-ytvis21", "cpu", threads, overrides, warmup=1, measured=2))
        if cuda:
            rows.append(Plan("r50-ytvis21", "cuda", None, (*r50, "train.device=cuda"), warmup=2, measured=6))
    return rows


def run_probe(plan: Plan, data_root: Path, scratch: Path) -> Measurement:
    """Run one probe process for ``plan`` and parse its JSON record."""
    environment = dict(os.environ)
    if plan.threads is not None:
        environment["OMP_NUM_THREADS"] = str(plan.threads)
    run_dir = scratch / f"run-{plan.preset}-{plan.device}-{plan.threads}"
    command = [
        sys.executable,
        "-m",
        "tests.benchmarks.train_step_probe",
        plan.preset,
        str(data_root),
        str(run_dir),
        str(plan.warmup),
        str(plan.measured),
    ]
    for override in plan.overrides:
        command += ["--set", override]
    completed = subprocess.run(
        command, cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{plan.preset} on {plan.device} failed:\n{completed.stderr[-2000:]}")
    record = json.loads(completed.stdout.strip().splitlines()[-1])
    step_seconds = tuple(record["step_seconds"])
    return Measurement(plan, record["clips_per_step"], step_seconds, record["operator_calls"])


def render_table(measurements: Sequence[Measurement]) -> Table:
    """The Rich table of the measurements, with clips/s relative to the first row of each preset."""
    table = Table(title="Training step speed (the trainer's own step, fresh process per row)")
    for column in ("preset", "device", "threads", "clips/step", "step s", "steps/s", "clips/s", "ops/step"):
        table.add_column(column, justify="right" if column not in ("preset", "device") else "left")
    table.add_column("ratio", justify="right")
    first_of_preset: dict[str, float] = {}
    for measurement in measurements:
        plan = measurement.plan
        baseline = first_of_preset.setdefault(plan.preset, measurement.clips_per_second)
        table.add_row(
            plan.preset,
            plan.device,
            "-" if plan.threads is None else str(plan.threads),
            str(measurement.clips_per_step),
            f"{measurement.median_step_s:.3f}",
            f"{1.0 / measurement.median_step_s:.2f}",
            f"{measurement.clips_per_second:.2f}",
            f"{measurement.operator_calls:,}",
            f"{measurement.clips_per_second / baseline:.2f}x",
        )
    return table


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options (``argv`` None: ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_train", description="Time training steps of the presets."
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts")
    parser.add_argument("--no-r50", action="store_true", help="skip the r50-ytvis21 rows")
    parser.add_argument("--no-cuda", action="store_true", help="skip the CUDA rows even with a GPU")
    arguments = parser.parse_args(argv)
    if any(threads < 1 for threads in arguments.threads):
        parser.error("--threads must be positive")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every row and print the table; returns the exit status."""
    arguments = parse_arguments(argv)
    console = Console()
    cuda = torch.cuda.is_available() and not arguments.no_cuda
    with tempfile.TemporaryDirectory(prefix="bench-train-") as folder:
        scratch = Path(folder)
        with console.status("writing the synthetic dataset"):
            generate_synthetic_dataset(scratch / "data" / "synth", DATASET)
        weights = scratch / "resnet50-random.pth"
        if not arguments.no_r50:
            import torchvision

            torch.save(torchvision.models.resnet50().state_dict(), weights)
        measurements = []
        rows = plans(arguments.threads, not arguments.no_r50, cuda, weights)
        for index, plan in enumerate(rows, start=1):
            threads = "" if plan.threads is None else f", {plan.threads} threads"
            with console.status(f"[{index}/{len(rows)}] {plan.preset} on {plan.device}{threads}"):
                measurements.append(run_probe(plan, scratch / "data", scratch))
    console.print(render_table(measurements))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

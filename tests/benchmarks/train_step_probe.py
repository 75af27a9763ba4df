"""One measured training run in this process, for ``make bench-train`` (``tests/benchmarks/bench_train.py``).

Run from the repository root as
``python -m tests.benchmarks.train_step_probe PRESET DATA_ROOT RUN_DIR WARMUP MEASURED [--set k=v ...]``.
It trains ``WARMUP + 1 + MEASURED`` optimiser steps with the toolkit's own
trainer (the ``ifm-train run`` code path, progress bar off) and prints one JSON object: the number of
PyTorch operator calls (ATen operators, forward and backward, optimiser included) of the step after the
warm-up, and the wall time and the process CPU time of each of the ``MEASURED`` steps after it
(synchronised on CUDA; on a loaded machine the CPU time of a one-thread run is the steadier number).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from instanceformer.core.config import load_config
from instanceformer.train import trainer as trainer_module


class OperatorCounter(TorchDispatchMode):
    """Counts the ATen operator calls dispatched while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return func(*args, **(kwargs or {}))


def main(argv: list[str]) -> int:
    """Train, time the measured steps, print the JSON record; returns the exit status."""
    preset, data_root, run_dir, warmup, measured = argv[:5]
    overrides = [argv[index + 1] for index in range(5, len(argv) - 1) if argv[index] == "--set"]
    num_warmup, num_measured = int(warmup), int(measured)
    config = load_config(
        preset,
        [
            "data.dataset=synth",
            f"data.root={data_root}",
            f"train.max_steps={num_warmup + 1 + num_measured}",
            "train.log_every=1000000",
            "train.checkpoint_every=1000000",
            *overrides,
        ],
    )
    step_seconds: list[float] = []
    cpu_seconds: list[float] = []
    operator_calls: list[int] = []
    steps_done = [0]
    original_step = trainer_module.Trainer.optimiser_step

    def timed_step(self, batches):  # type: ignore[no-untyped-def]
        index = steps_done[0]
        steps_done[0] += 1
        if index == num_warmup:
            with OperatorCounter() as counter:
                result = original_step(self, batches)
            operator_calls.append(counter.calls)
            return result
        synchronise = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        synchronise()
        start, cpu_start = time.perf_counter(), time.process_time()
        result = original_step(self, batches)
        synchronise()
        if index > num_warmup:
            step_seconds.append(time.perf_counter() - start)
            cpu_seconds.append(time.process_time() - cpu_start)
        return result

    trainer_module.Trainer.optimiser_step = timed_step  # type: ignore[method-assign]
    options = trainer_module.TrainOptions(out=Path(run_dir), progress=False, command=("bench-train",))
    trainer_module.train(config, options)
    record = {
        "clips_per_step": config.train.total_batch_size,
        "frames_per_clip": config.data.num_frames,
        "step_seconds": step_seconds,
        "cpu_seconds": cpu_seconds,
        "operator_calls": operator_calls[0],
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

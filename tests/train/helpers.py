"""Helpers of the training tests: tiny-run arguments and reading a run's final weights."""

from __future__ import annotations

from pathlib import Path

import torch

from instanceformer.core.engine.checkpoints import load_checkpoint

# The tiny preset at the synthetic frames' own size, without worker processes: 12 steps per epoch.
TINY_OVERRIDES = (
    "data.train_min_sizes=[64]",
    "data.train_max_size=96",
    "data.num_workers=0",
    "train.log_every=1",
    "train.checkpoint_every=1000",
)


def run_arguments(data_root: Path, out: Path, *overrides: str, command: str = "run") -> list[str]:
    """``ifm-train`` arguments for a tiny synthetic run into ``out``."""
    arguments = [
        command,
        "--dataset",
        "synth",
        "--data-root",
        str(data_root),
        "--out",
        str(out),
        "--no-progress",
    ]
    for override in (*TINY_OVERRIDES, *overrides):
        arguments += ["--set", override]
    return arguments


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    """The model weights of a run's ``last.pt``."""
    return load_checkpoint(run / "checkpoints" / "last.pt")["model"]

"""Helpers of the training tests: tiny-run arguments, a run's final weights and losses, bitwise comparison."""

from __future__ import annotations

from pathlib import Path

import torch

from instanceformer.core.engine.checkpoints import load_checkpoint
from instanceformer.core.runs import RunFolder

# The tiny preset at the synthetic frames' own size, without worker processes: 12 steps per epoch.
TINY_OVERRIDES = (
    "data.train_min_sizes=[64]",
    "data.train_max_size=96",
    "data.num_workers=0",
    "train.log_every=1",
    "train.checkpoint_every=1000",
)


# Frames upscaled to 128 px: the loss's gather of repeated mask-feature rows is then large enough
# (over 32768 elements) for PyTorch to parallelise its backward, where thread order once changed the sums.
DETERMINISM_OVERRIDES = ("data.train_min_sizes=[128]", "data.train_max_size=192")


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


def logged_losses(run: Path) -> list[float]:
    """The total loss of every ``train`` line of a run's ``metrics.jsonl``."""
    return [record["loss"]["total"] for record in RunFolder(run).read_metrics() if record["kind"] == "train"]


def assert_same_training(expected: Path, actual: Path) -> None:
    """Two runs ended bitwise equal: logged losses, weights and the optimiser's moments."""
    assert logged_losses(actual) == logged_losses(expected)
    first = load_checkpoint(expected / "checkpoints" / "last.pt")
    second = load_checkpoint(actual / "checkpoints" / "last.pt")
    assert first["step"] == second["step"]
    assert first["model"].keys() == second["model"].keys()
    for name, tensor in first["model"].items():
        assert torch.equal(tensor, second["model"][name]), name
    for index, moments in first["optimizer"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(moments[key], second["optimizer"]["state"][index][key]), (index, key)

"""Shared fixtures of the inference tests: a tiny synthetic dataset and a run folder with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.engine.checkpoints import checkpoint_payload, save_checkpoint
from instanceformer.core.model import build_model
from instanceformer.core.runs import RunFolder
from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset

TINY_SYNTH = SynthSpec(
    train_videos=1, valid_videos=3, num_frames=4, height=48, width=64, num_categories=6, seed=3
)


def make_tiny_run(root: Path, overrides: tuple[str, ...] = ()) -> Path:
    """A run folder of the tiny preset with randomly initialised weights in ``checkpoints/last.pt``."""
    config = load_config("tiny-cpu", ["infer.min_size=64", "infer.max_size=96", *overrides])
    torch.manual_seed(0)
    model = build_model(config.model)
    run = RunFolder.create(root, config)
    save_checkpoint(
        run,
        checkpoint_payload(
            model=model.state_dict(), optimizer=None, scheduler=None, step=0, epoch=0, config=config
        ),
        keep=1,
    )
    return root


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic dataset (3 validation videos of 4 frames of 48x64); read-only."""
    root = tmp_path_factory.mktemp("synth")
    generate_synthetic_dataset(root, TINY_SYNTH)
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny-preset run folder with random weights; read-only."""
    return make_tiny_run(tmp_path_factory.mktemp("runs") / "tiny")

"""Shared fixtures of the inference tests: a tiny synthetic dataset and a run folder with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset
from tests.support.tiny_run import make_tiny_run

TINY_SYNTH = SynthSpec(
    train_videos=1, valid_videos=3, num_frames=4, height=48, width=64, num_categories=6, seed=3
)
INFER_OVERRIDES = ("infer.min_size=64", "infer.max_size=96")


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic dataset (3 validation videos of 4 frames of 48x64); read-only."""
    root = tmp_path_factory.mktemp("synth")
    generate_synthetic_dataset(root, TINY_SYNTH)
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny-preset run folder with random weights; read-only."""
    return make_tiny_run(tmp_path_factory.mktemp("runs") / "tiny", INFER_OVERRIDES)

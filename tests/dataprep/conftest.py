"""Shared fixtures of the dataprep tests: a tiny synthetic dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset

TINY_SPEC = SynthSpec(
    train_videos=4, valid_videos=2, num_frames=6, height=64, width=96, num_categories=6, seed=5
)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic dataset (4 training videos of 6 frames of 64x96); treat it as read-only."""
    root = tmp_path_factory.mktemp("synth")
    generate_synthetic_dataset(root, TINY_SPEC)
    return root


@pytest.fixture
def dataset_copy(synthetic_root: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic dataset that a test may break."""
    copy = tmp_path / "synth"
    shutil.copytree(synthetic_root, copy)
    return copy

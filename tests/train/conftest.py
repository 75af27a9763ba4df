"""Shared fixtures of the training tests: a tiny synthetic dataset and a tiny configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset

TINY_SPEC = SynthSpec(
    train_videos=4, valid_videos=2, num_frames=6, height=64, width=96, num_categories=6, seed=5
)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding ``synth/`` (4 training videos of 6 frames of 64x96); treat it as read-only."""
    root = tmp_path_factory.mktemp("data")
    generate_synthetic_dataset(root / "synth", TINY_SPEC)
    return root


@pytest.fixture
def two_threads() -> Iterator[None]:
    """PyTorch's intra-op threads set to 2 for the test (then restored): the default of a 2-core machine,
    where parallel reductions and scatter-adds could make runs differ."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)

"""Fixtures of the analysis tests: a tiny synthetic dataset and real analysis dumps of a tiny model.

The dumps come from ``ifm-infer dataset --analysis`` with a randomly initialised tiny-preset model, so
the tests read exactly what the inference stage writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from instanceformer.core.cli import run_app
from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset
from instanceformer.infer.cli import app as infer_app
from tests.support.tiny_run import make_tiny_run

TINY_SYNTH = SynthSpec(
    train_videos=1, valid_videos=2, num_frames=4, height=48, width=64, num_categories=6, seed=11
)
INFER_OVERRIDES = ("infer.min_size=64", "infer.max_size=96")


@dataclass(frozen=True)
class SynthData:
    """The synthetic dataset's validation split: annotation file and frame root."""

    annotations: Path
    frames: Path


@dataclass(frozen=True)
class InferenceOutput:
    """An ``ifm-infer dataset --analysis`` output folder and the data it ran on."""

    folder: Path
    data: SynthData

    @property
    def embeddings(self) -> Path:
        return self.folder / "embeddings.pt"

    @property
    def reference_points(self) -> Path:
        return self.folder / "reference_points.pt"

    @property
    def sampling_locations(self) -> Path:
        return self.folder / "sampling_locations.pt"

    @property
    def results(self) -> Path:
        return self.folder / "results.json"


def infer_with_analysis(run: Path, data: SynthData, out: Path) -> InferenceOutput:
    """Run ``ifm-infer dataset --analysis`` and return its output folder."""
    arguments = ["dataset", "--run", str(run), "--gt", str(data.annotations)]
    arguments += ["--frames", str(data.frames), "--out", str(out), "--analysis"]
    assert run_app(infer_app, arguments) == 0
    return InferenceOutput(out, data)


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> SynthData:
    """2 validation videos of 4 frames of 48x64 (ids 1 and 2); read-only."""
    root = tmp_path_factory.mktemp("synth")
    generate_synthetic_dataset(root, TINY_SYNTH)
    return SynthData(root / "annotations" / "instances_valid.json", root / "valid" / "JPEGImages")


@pytest.fixture(scope="session")
def inference(tmp_path_factory: pytest.TempPathFactory, synth_data: SynthData) -> InferenceOutput:
    """Real dumps of a randomly initialised tiny model on the synthetic videos; read-only."""
    run = make_tiny_run(tmp_path_factory.mktemp("runs") / "tiny", INFER_OVERRIDES)
    return infer_with_analysis(run, synth_data, tmp_path_factory.mktemp("inference") / "out")

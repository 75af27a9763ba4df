"""A briefly trained tiny model's embeddings separate tracks better than a random model's, and its two
embedding spaces (contrastive head, decoder) get different separation numbers (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instanceformer.analysis.cli import app
from instanceformer.core.cli import run_app
from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset
from instanceformer.train.cli import app as train_app
from tests.support.tiny_run import make_tiny_run

from .conftest import INFER_OVERRIDES, SynthData, infer_with_analysis

TRAINING_STEPS = 24


def _separations(embeddings: Path, out: Path) -> dict[str, float]:
    """The separation of each embedding space, from the sidecar of ``tsne --space decoder``."""
    arguments = ["tsne", str(embeddings), "--out", str(out), "--method", "pca", "--space", "decoder"]
    assert run_app(app, arguments) == 0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["separation"] == sidecar["separations"]["decoder"]["separation"]
    return {space: numbers["separation"] for space, numbers in sidecar["separations"].items()}


@pytest.mark.slow
def test_training_raises_the_track_separation(tmp_path: Path) -> None:
    data_root = tmp_path / "data"
    spec = SynthSpec(
        train_videos=4, valid_videos=1, num_frames=6, height=64, width=96, num_categories=6, seed=5
    )
    generate_synthetic_dataset(data_root / "synth", spec)
    trained = tmp_path / "trained"
    arguments = [
        "run",
        "--dataset",
        "synth",
        "--data-root",
        str(data_root),
        "--out",
        str(trained),
        "--no-progress",
    ]
    overrides = ["data.train_min_sizes=[64]", "data.train_max_size=96", "data.num_workers=0"]
    overrides += [f"train.max_steps={TRAINING_STEPS}", "train.checkpoint_every=1000", *INFER_OVERRIDES]
    for override in overrides:
        arguments += ["--set", override]
    assert run_app(train_app, arguments) == 0
    videos = SynthData(
        data_root / "synth" / "annotations" / "instances_train.json",
        data_root / "synth" / "train" / "JPEGImages",
    )
    random_run = make_tiny_run(tmp_path / "random", INFER_OVERRIDES)
    after = infer_with_analysis(trained, videos, tmp_path / "after").embeddings
    before = infer_with_analysis(random_run, videos, tmp_path / "before").embeddings
    after_training = _separations(after, tmp_path / "after.png")
    at_random = _separations(before, tmp_path / "before.png")
    assert set(after_training) == set(at_random) == {"contrastive", "decoder"}
    assert after_training["decoder"] > 1.3 * at_random["decoder"]
    assert after_training["contrastive"] > 1.3 * at_random["contrastive"]
    assert after_training["contrastive"] != pytest.approx(after_training["decoder"], rel=0.01)

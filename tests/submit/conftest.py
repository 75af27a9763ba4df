"""Fixtures of the ifm-submit tests: a tiny video set, results builders and loopback evaluation servers.

The fake servers live in ``fake_codalab.py`` (CodaLab Competitions v1.x) and ``fake_codabench.py``
(Codabench), on the plumbing of ``fake_http.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from tests.submit import fake_codabench as codabench_fake
from tests.submit import fake_codalab as codalab_fake
from tests.submit.fake_codabench import FakeCodabenchState, codabench_handler
from tests.submit.fake_codalab import FakeCodaLabState, codalab_handler
from tests.submit.fake_http import serve

VIDEO_SIZES = {1: (6, 8, 3), 2: (5, 5, 2), 3: (4, 4, 2)}  # video id: (height, width, num_frames)


def _mask(height: int, width: int, seed: int) -> np.ndarray:
    """A small deterministic ``[height, width]`` mask (a block whose place depends on ``seed``)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    top, left = seed % (height - 1), (seed * 3) % (width - 1)
    mask[top : top + 2, left : left + 2] = 1
    return mask


def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """A compressed RLE by pycocotools directly (independent of the toolkit's encoder)."""
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def track(video_id: int, category_id: int = 1, score: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """A valid results record for one of the fixture's videos (the second frame empty)."""
    height, width, frames = VIDEO_SIZES[video_id]
    segmentations: list[dict[str, Any] | None] = [
        compressed_rle(_mask(height, width, seed + frame)) for frame in range(frames)
    ]
    segmentations[1] = None
    return {"video_id": video_id, "category_id": category_id, "score": score, "segmentations": segmentations}


def write_json(path: Path, payload: Any) -> Path:
    """Write ``payload`` as JSON (NaN allowed, as a broken writer would produce) and return ``path``."""
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


@pytest.fixture
def annotations_path(tmp_path: Path) -> Path:
    """A valid/test-style annotation file (OVIS spelling: ``"annotations": null``) of three videos."""
    videos = [
        {
            "id": video_id,
            "height": height,
            "width": width,
            "length": frames,
            "file_names": [f"v{video_id}/{frame:05d}.jpg" for frame in range(frames)],
        }
        for video_id, (height, width, frames) in VIDEO_SIZES.items()
    ]
    categories = [{"id": 1, "name": "Person"}, {"id": 2, "name": "Bird"}]
    return write_json(
        tmp_path / "valid.json", {"videos": videos, "categories": categories, "annotations": None}
    )


@pytest.fixture
def results_path(tmp_path: Path) -> Path:
    """Valid results for videos 1 and 2 (video 3 has none)."""
    return write_json(
        tmp_path / "results.json", [track(1, 1, 0.9), track(1, 2, 0.4, seed=2), track(2, 2, 0.7)]
    )


@pytest.fixture
def fake_codalab() -> Iterator[FakeCodaLabState]:
    """A CodaLab-like server on 127.0.0.1 (port 0) in a thread, shut down after the test."""
    state = FakeCodaLabState()
    with serve(state, codalab_handler(state)):
        yield state


@pytest.fixture
def fake_codabench() -> Iterator[FakeCodabenchState]:
    """A Codabench-like server on 127.0.0.1 (port 0) in a thread, shut down after the test."""
    state = FakeCodabenchState()
    with serve(state, codabench_handler(state)):
        yield state


@dataclass(frozen=True)
class SubmitKit:
    """The helpers and constants above, handed to test modules as a fixture."""

    password: str = codalab_fake.PASSWORD
    username: str = codalab_fake.USERNAME
    competition_id: int = codalab_fake.COMPETITION_ID
    codabench_password: str = codabench_fake.PASSWORD
    codabench_username: str = codabench_fake.USERNAME
    codabench_competition_id: int = codabench_fake.COMPETITION_ID
    video_sizes: dict[int, tuple[int, int, int]] = field(default_factory=lambda: dict(VIDEO_SIZES))

    @staticmethod
    def track(video_id: int, category_id: int = 1, score: float = 0.5, seed: int = 0) -> dict[str, Any]:
        """See :func:`track`."""
        return track(video_id, category_id, score, seed)

    @staticmethod
    def write_json(path: Path, payload: Any) -> Path:
        """See :func:`write_json`."""
        return write_json(path, payload)

    @staticmethod
    def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
        """See :func:`compressed_rle`."""
        return compressed_rle(mask)


@pytest.fixture
def kit() -> SubmitKit:
    """Helpers and constants of the submit tests."""
    return SubmitKit()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME with no .netrc, no server credential variables, and a wide terminal for Rich tables."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("CODALAB_USERNAME", "CODALAB_PASSWORD", "CODABENCH_USERNAME", "CODABENCH_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return home

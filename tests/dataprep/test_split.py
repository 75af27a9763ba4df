"""``ifm-prep split``: a deterministic, disjoint, stratified video split with ground truth."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.core.cli import run_app
from instanceformer.core.formats import Category, Track, Video, VideoDataset, load_annotations
from instanceformer.dataprep.cli import app
from instanceformer.dataprep.split import split_videos, video_strata

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_split_command_writes_two_disjoint_files(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = synthetic_root / "annotations" / "instances_train.json"
    arguments = ["split", str(annotations), "--val-fraction", "0.25", "--seed", "3", "--out-dir"]
    assert run_app(app, [*arguments, str(tmp_path / "a")]) == 0
    assert run_app(app, [*arguments, str(tmp_path / "b")]) == 0
    assert "Video split" in capsys.readouterr().out
    for name in ("instances_train_sub.json", "instances_val_sub.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

    full = load_annotations(annotations)
    train = load_annotations(tmp_path / "a" / "instances_train_sub.json")
    val = load_annotations(tmp_path / "a" / "instances_val_sub.json")
    train_ids = {video.id for video in train.videos}
    val_ids = {video.id for video in val.videos}
    assert len(val_ids) == 1 and len(train_ids) == 3
    assert train_ids.isdisjoint(val_ids)
    assert train_ids | val_ids == {video.id for video in full.videos}
    assert train.categories == full.categories == val.categories
    for part, ids in ((train, train_ids), (val, val_ids)):
        assert {track.video_id for track in part.annotations} <= ids
        assert sorted(t.id for t in part.annotations) == sorted(
            t.id for t in full.annotations if t.video_id in ids
        )
    assert json.loads((tmp_path / "a" / "instances_val_sub.json").read_text())["info"]["split"] == "train"


def test_bad_arguments_exit_2(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = synthetic_root / "annotations" / "instances_train.json"
    assert run_app(app, ["split", str(annotations), "--val-fraction", "1.5", "--out-dir", str(tmp_path)]) == 2
    assert "--val-fraction" in capsys.readouterr().err
    no_truth = tmp_path / "test.json"
    payload = json.loads(annotations.read_text())
    payload["annotations"] = None
    no_truth.write_text(json.dumps(payload))
    assert run_app(app, ["split", str(no_truth), "--out-dir", str(tmp_path)]) == 2
    assert "expected ground truth" in capsys.readouterr().err


def _dataset(video_categories: list[list[int]], num_categories: int) -> VideoDataset:
    """Videos of 2 frames, each with one 1-pixel track per listed category."""
    videos, tracks = [], []
    for video_id, categories in enumerate(video_categories, 1):
        videos.append(Video(video_id, 4, 4, 2, (f"v{video_id}/0.jpg", f"v{video_id}/1.jpg")))
        for category in categories:
            segmentation = {"size": [4, 4], "counts": [0, 1, 15]}
            tracks.append(
                Track(
                    len(tracks) + 1,
                    video_id,
                    category,
                    0,
                    (segmentation, None),
                    (1, None),
                    ([0, 0, 1, 1], None),
                )
            )
    categories = tuple(Category(i, f"c{i}") for i in range(1, num_categories + 1))
    return VideoDataset(videos=tuple(videos), annotations=tuple(tracks), categories=categories)


@settings(max_examples=60, deadline=None)
@given(
    video_categories=st.lists(st.lists(st.integers(1, 5), max_size=3), min_size=2, max_size=30),
    fraction=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**16),
)
def test_split_properties(video_categories: list[list[int]], fraction: float, seed: int) -> None:
    dataset = _dataset(video_categories, 5)
    result = split_videos(dataset, fraction, seed)
    again = split_videos(dataset, fraction, seed)
    train_ids = [video.id for video in result.train.videos]
    val_ids = [video.id for video in result.val.videos]
    assert train_ids == [video.id for video in again.train.videos]
    assert set(train_ids).isdisjoint(val_ids)
    assert sorted(train_ids + val_ids) == [video.id for video in dataset.videos]
    num_videos = len(dataset.videos)
    assert len(val_ids) == min(max(round(fraction * num_videos), 1), num_videos - 1)
    # Stratification: every stratum's validation share is within one video of the exact share.
    strata = video_strata(dataset)
    sizes = Counter(strata.values())
    val_per_stratum = Counter(strata[video_id] for video_id in val_ids)
    for stratum, size in sizes.items():
        assert abs(val_per_stratum[stratum] - fraction * size) < 1 + 1e-9 or len(val_ids) != round(
            fraction * num_videos
        )
        assert result.strata[stratum] == (size - val_per_stratum[stratum], val_per_stratum[stratum])


def test_strata_are_the_rarest_category() -> None:
    dataset = _dataset([[1, 2], [1], [1, 3], [], [2, 3, 1]], 3)
    # Videos per category: 1 -> 4, 2 -> 2, 3 -> 2 (ties go to the smaller id).
    assert video_strata(dataset) == {1: 2, 2: 1, 3: 3, 4: -1, 5: 2}

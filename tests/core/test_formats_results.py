"""Server results: JSON and zip round trips, structural validation, checks against a dataset."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from instanceformer.core.errors import FormatError
from instanceformer.core.formats import (
    RESULTS_MEMBER,
    Category,
    TrackResult,
    Video,
    VideoDataset,
    check_results_against,
    decode_segmentation,
    encode_mask,
    encode_mask_uncompressed,
    load_results,
    results_to_json,
    write_results_json,
    write_results_zip,
)


def _mask(height: int, width: int, top: int, left: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top : top + 2, left : left + 2] = 1
    return mask


def sample_dataset() -> VideoDataset:
    """Two videos (3 frames of 4x5, 2 frames of 3x3), categories 1 and 2, no ground truth."""
    return VideoDataset(
        videos=[
            Video(id=7, width=5, height=4, length=3, file_names=["a/0.jpg", "a/1.jpg", "a/2.jpg"]),
            Video(id=9, width=3, height=3, length=2, file_names=["b/0.jpg", "b/1.jpg"]),
        ],
        annotations=None,
        categories=[Category(id=1, name="person"), Category(id=2, name="giant_panda")],
    )


def sample_results() -> list[TrackResult]:
    rle = encode_mask(_mask(4, 5, 1, 2))
    return [
        TrackResult(
            video_id=7, category_id=2, score=0.9, segmentations=[rle, None, encode_mask(_mask(4, 5, 0, 0))]
        ),
        TrackResult(
            video_id=9,
            category_id=1,
            score=0.25,
            segmentations=[
                None,
                {"size": [3, 3], "counts": encode_mask(_mask(3, 3, 1, 1))["counts"].encode()},
            ],
        ),
    ]


def test_json_round_trip(tmp_path: Path) -> None:
    results = sample_results()
    path = write_results_json(results, tmp_path / "results.json")
    loaded = load_results(path)
    assert len(loaded) == 2
    assert loaded[0] == results[0]
    # counts written as bytes come back as the equal string
    assert loaded[1].segmentations[1]["counts"] == results[1].segmentations[1]["counts"].decode()
    assert json.loads(path.read_text()) == results_to_json(results)
    np.testing.assert_array_equal(decode_segmentation(loaded[0].segmentations[0], 4, 5), _mask(4, 5, 1, 2))
    assert check_results_against(loaded, sample_dataset()) == []


def test_zip_holds_one_root_member_and_round_trips(tmp_path: Path) -> None:
    results = sample_results()
    archive_path = write_results_zip(results, tmp_path / "submission.zip")
    with zipfile.ZipFile(archive_path) as archive:
        assert archive.namelist() == [RESULTS_MEMBER]
        member = archive.read(RESULTS_MEMBER)
    json_path = write_results_json(results, tmp_path / "results.json")
    assert member == json_path.read_bytes()
    assert load_results(archive_path) == load_results(json_path)


def test_zip_bytes_are_deterministic(tmp_path: Path) -> None:
    first = write_results_zip(sample_results(), tmp_path / "one" / "a.zip").read_bytes()
    second = write_results_zip(sample_results(), tmp_path / "two" / "b.zip").read_bytes()
    assert first == second
    different = [TrackResult(video_id=7, category_id=2, score=0.5, segmentations=[None, None, None])]
    assert write_results_zip(different, tmp_path / "c.zip").read_bytes() != first


def test_empty_results(tmp_path: Path) -> None:
    assert load_results(write_results_zip([], tmp_path / "empty.zip")) == []
    assert check_results_against([], sample_dataset()) == []


def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("members", "listed"),
    [
        ({"results/results.json": b"[]"}, "it holds results/results.json"),
        ({"results.json": b"[]", "notes.txt": b"x"}, "it holds results.json, notes.txt"),
        ({"predictions.json": b"[]"}, "it holds predictions.json"),
        ({}, "it holds nothing"),
    ],
)
def test_zip_with_other_members_is_rejected(tmp_path: Path, members: dict[str, bytes], listed: str) -> None:
    path = _zip_with(tmp_path / "bad.zip", members)
    with pytest.raises(FormatError, match="expected a zip holding only 'results.json' at its root") as raised:
        load_results(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert listed in str(raised.value)


def test_corrupt_zip_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FormatError, match="expected a zip archive"):
        load_results(path)


def test_zip_member_errors_name_the_member(tmp_path: Path) -> None:
    path = _zip_with(tmp_path / "sub.zip", {RESULTS_MEMBER: b'[{"video_id": 1}'})
    with pytest.raises(FormatError, match=r"expected valid JSON") as raised:
        load_results(path)
    assert str(raised.value).startswith(f"{path} (member results.json): line 1, column 17")


def _valid_entry() -> dict[str, Any]:
    return {"video_id": 7, "category_id": 2, "score": 0.5, "segmentations": [None, None, None]}


def _entry_with(**changes: Any) -> list[Any]:
    entry = _valid_entry()
    for key, value in changes.items():
        if value is KeyError:
            del entry[key]
        else:
            entry[key] = value
    return [_valid_entry(), entry]


BROKEN_RESULTS = [
    # (case, payload, record, field, expected text)
    (
        "not a list",
        {"results": []},
        None,
        None,
        "expected a JSON list of tracks at the top level, got an object",
    ),
    ("entry not an object", [_valid_entry(), 3], "results[1]", None, "expected an object, got a number"),
    ("video_id missing", _entry_with(video_id=KeyError), "results[1]", "video_id", "missing"),
    (
        "video_id a string",
        _entry_with(video_id="7"),
        "results[1]",
        "video_id",
        "expected an integer, got a string",
    ),
    ("category_id a float", _entry_with(category_id=2.5), "results[1]", "category_id", "got 2.5"),
    (
        "score a string",
        _entry_with(score="0.5"),
        "results[1]",
        "score",
        "expected a finite number, got a string",
    ),
    ("score a boolean", _entry_with(score=True), "results[1]", "score", "got true"),
    ("score missing", _entry_with(score=KeyError), "results[1]", "score", "missing"),
    ("segmentations null", _entry_with(segmentations=None), "results[1]", "segmentations", "expected a list"),
    (
        "segmentation a list",
        _entry_with(segmentations=[None, [[0, 0, 1, 0, 1, 1]], None]),
        "results[1]",
        "segmentations[1]",
        "expected an RLE object with 'size' and 'counts' or null, got a list",
    ),
    (
        "segmentation without counts",
        _entry_with(segmentations=[{"size": [4, 5]}, None, None]),
        "results[1]",
        "segmentations[0]",
        "expected an RLE object",
    ),
    (
        "size with one value",
        _entry_with(segmentations=[None, None, {"size": [4], "counts": "d0"}]),
        "results[1]",
        "segmentations[2].size",
        "expected [height, width] as two positive integers, got [4]",
    ),
    (
        "counts a number",
        _entry_with(segmentations=[None, None, {"size": [4, 5], "counts": 20}]),
        "results[1]",
        "segmentations[2].counts",
        "expected a string or a list, got a number",
    ),
]


@pytest.mark.parametrize(
    ("payload", "record", "field", "expected"),
    [case[1:] for case in BROKEN_RESULTS],
    ids=[case[0] for case in BROKEN_RESULTS],
)
def test_structural_errors_name_file_record_and_field(
    tmp_path: Path, payload: Any, record: str | None, field: str | None, expected: str
) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(FormatError) as raised:
        load_results(path)
    error = raised.value
    assert error.path == str(path)
    assert error.record == record
    assert error.field == field
    assert expected in str(error)
    if record is not None:
        assert str(error).startswith(f"{path}: {record}: ")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_score_is_rejected(tmp_path: Path, literal: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(f'[{{"video_id": 7, "category_id": 2, "score": {literal}, "segmentations": []}}]')
    with pytest.raises(FormatError, match="field 'score': expected a finite number"):
        load_results(path)


def test_check_against_dataset_lists_every_problem() -> None:
    good = encode_mask(_mask(4, 5, 0, 0))
    results = [
        TrackResult(video_id=99, category_id=2, score=0.5, segmentations=[good]),
        TrackResult(video_id=7, category_id=40, score=1.5, segmentations=[good, None, good]),
        TrackResult(video_id=7, category_id=1, score=-0.1, segmentations=[good, None]),
        TrackResult(
            video_id=7,
            category_id=1,
            score=0.3,
            segmentations=[
                encode_mask(_mask(3, 3, 0, 0)),
                encode_mask_uncompressed(_mask(4, 5, 1, 1)),
                {"size": [4, 5], "counts": "0 1"},
            ],
        ),
        TrackResult(
            video_id=9, category_id=1, score=0.3, segmentations=[{"size": [3, 3], "counts": "1"}, None]
        ),
        TrackResult(video_id=9, category_id=2, score=1.0, segmentations=[None, None]),
    ]
    problems = check_results_against(results, sample_dataset())
    expected = [
        "results[0] (video_id 99): video_id 99 is not a video of the dataset",
        "results[1] (video_id 7): score 1.5 is outside [0, 1]",
        "results[1] (video_id 7): category_id 40 is not a category of the dataset",
        "results[2] (video_id 7): score -0.1 is outside [0, 1]",
        "results[2] (video_id 7): 2 segmentations, the video has 3 frames",
        "results[3] (video_id 7): 1 mask has a size other than the video's [4, 5] "
        "(segmentations[0], e.g. [3, 3])",
        "results[3] (video_id 7): 1 mask is uncompressed RLE, the servers want compressed RLE "
        "(counts a string) (segmentations[1])",
        "results[3] (video_id 7): 1 mask has malformed compressed counts or counts not covering 4x5 pixels "
        "(segmentations[2])",
        "results[4] (video_id 9): 1 mask has malformed compressed counts or counts not covering 3x3 pixels "
        "(segmentations[0])",
    ]
    assert problems == expected


def test_check_against_dataset_summarises_many_frames() -> None:
    wrong = encode_mask(_mask(8, 10, 0, 0))
    dataset = VideoDataset(
        videos=[Video(id=7, width=5, height=4, length=5, file_names=["0", "1", "2", "3", "4"])],
        annotations=None,
        categories=[Category(id=1, name="person")],
    )
    results = [
        TrackResult(video_id=7, category_id=1, score=0.5, segmentations=[wrong, wrong, wrong, None, None]),
        TrackResult(video_id=7, category_id=1, score=0.5, segmentations=[None, wrong, wrong, wrong, wrong]),
    ]
    assert check_results_against(results, dataset) == [
        "results[0] (video_id 7): 3 masks have a size other than the video's [4, 5] "
        "(segmentations[0, 1, 2], e.g. [8, 10])",
        "results[1] (video_id 7): 4 masks have a size other than the video's [4, 5] "
        "(segmentations[1, 2, 3, ...], e.g. [8, 10])",
    ]

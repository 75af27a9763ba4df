"""YouTube-VIS / OVIS annotation files: loading, lossless writing and every validation error."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import (
    Category,
    Track,
    Video,
    VideoDataset,
    decode_segmentation,
    encode_mask,
    encode_mask_uncompressed,
    load_annotations,
    validate_dataset,
    write_annotations,
)


def _mask(height: int, width: int, top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top : top + size, left : left + size] = 1
    return mask


def sample_payload() -> dict[str, Any]:
    """A small valid annotation file: two videos, three tracks, every segmentation encoding."""
    return {
        "info": {"description": "test set", "version": "1.0"},
        "licenses": [{"id": 1, "name": "test"}],
        "videos": [
            {
                "id": 7,
                "width": 5,
                "height": 4,
                "length": 3,
                "file_names": ["a/00000.jpg", "a/00005.jpg", "a/00010.jpg"],
                "license": 1,
                "date_captured": "2019-04-11",
            },
            {"id": 9, "width": 3, "height": 3, "length": 2, "file_names": ["b/00000.jpg", "b/00005.jpg"]},
        ],
        "categories": [
            {"id": 1, "name": "person", "supercategory": "object"},
            {"id": 2, "name": "giant_panda", "supercategory": "object"},
        ],
        "annotations": [
            {
                "id": 1,
                "video_id": 7,
                "category_id": 2,
                "iscrowd": 0,
                "segmentations": [
                    encode_mask_uncompressed(_mask(4, 5, 0, 0, 2)),
                    None,
                    encode_mask(_mask(4, 5, 1, 1, 3)),
                ],
                "areas": [4, None, 9],
                "bboxes": [[0, 0, 2, 2], None, [1.0, 1.0, 3.0, 3.0]],
                "height": 4,
                "width": 5,
                "length": 1,
            },
            {
                "id": 2,
                "video_id": 7,
                "category_id": 1,
                "iscrowd": 0,
                "segmentations": [None, [[1, 1, 4, 1, 4, 3, 1, 3]], None],
                "areas": [None, 6.0, None],
                "bboxes": [None, [1, 1, 3, 2], None],
                "occlusion": ["no_occlusion", "slight_occlusion", "severe_occlusion"],
            },
            {
                "id": 5,
                "video_id": 9,
                "category_id": 1,
                "iscrowd": 1,
                "segmentations": [encode_mask_uncompressed(_mask(3, 3, 1, 1, 2)), None],
                "areas": [4, None],
                "bboxes": [[1, 1, 2, 2], None],
            },
        ],
    }


def write_payload(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_load_builds_typed_records(tmp_path: Path) -> None:
    dataset = load_annotations(write_payload(tmp_path / "train.json", sample_payload()))
    assert dataset.has_ground_truth
    assert [video.id for video in dataset.videos] == [7, 9]
    video = dataset.video(7)
    assert (video.height, video.width, video.length) == (4, 5, 3)
    assert video.file_names == ("a/00000.jpg", "a/00005.jpg", "a/00010.jpg")
    assert video.extra == {"license": 1, "date_captured": "2019-04-11"}
    assert [track.id for track in dataset.tracks_of(7)] == [1, 2]
    assert [track.id for track in dataset.tracks_of(9)] == [5]
    assert dataset.tracks_of(12345) == ()
    first = dataset.tracks_of(7)[0]
    assert first.present_frames == [0, 2]
    assert first.extra == {"height": 4, "width": 5, "length": 1}
    assert first.occlusion is None
    assert dataset.tracks_of(7)[1].occlusion == ("no_occlusion", "slight_occlusion", "severe_occlusion")
    assert dataset.categories[1] == Category(id=2, name="giant_panda", supercategory="object")
    assert dataset.extra == {
        "info": {"description": "test set", "version": "1.0"},
        "licenses": [{"id": 1, "name": "test"}],
    }
    # Segmentations stay in the file's own encoding and decode to the masks they were made from.
    assert isinstance(first.segmentations[0]["counts"], list)
    assert isinstance(first.segmentations[2]["counts"], str)
    np.testing.assert_array_equal(decode_segmentation(first.segmentations[2], 4, 5), _mask(4, 5, 1, 1, 3))
    with pytest.raises(KeyError, match="no video with id 8"):
        dataset.video(8)
    assert repr(dataset) == "VideoDataset(2 videos, 3 tracks, 2 categories)"


def test_write_then_load_is_lossless(tmp_path: Path) -> None:
    source = write_payload(tmp_path / "train.json", sample_payload())
    dataset = load_annotations(source)
    written = write_annotations(dataset, tmp_path / "copy.json")
    again = load_annotations(written)
    assert again == dataset
    assert json.loads(written.read_text()) == sample_payload()
    indented = write_annotations(dataset, tmp_path / "indented.json", indent=2)
    assert load_annotations(indented) == dataset
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy.json", "indented.json", "train.json"]


@pytest.mark.parametrize("annotations", ["null", "missing"])
def test_file_without_ground_truth(tmp_path: Path, annotations: str) -> None:
    payload = sample_payload()
    if annotations == "null":
        payload["annotations"] = None
    else:
        del payload["annotations"]
    dataset = load_annotations(write_payload(tmp_path / "valid.json", payload))
    assert dataset.annotations is None
    assert not dataset.has_ground_truth
    assert dataset.tracks_of(7) == ()
    again = load_annotations(write_annotations(dataset, tmp_path / "copy.json"))
    assert again == dataset
    assert json.loads((tmp_path / "copy.json").read_text())["annotations"] is None


def test_empty_annotation_list_is_ground_truth_without_tracks(tmp_path: Path) -> None:
    payload = sample_payload()
    payload["annotations"] = []
    dataset = load_annotations(write_payload(tmp_path / "train.json", payload))
    assert dataset.has_ground_truth
    assert dataset.annotations == ()


def test_dataset_built_in_code_round_trips(tmp_path: Path) -> None:
    mask = _mask(2, 3, 0, 1, 2)
    dataset = VideoDataset(
        videos=[Video(id=1, width=3, height=2, length=1, file_names=["v/0.jpg"])],
        annotations=[
            Track(
                id=1,
                video_id=1,
                category_id=3,
                iscrowd=0,
                segmentations=[encode_mask_uncompressed(mask)],
                areas=[int(mask.sum())],
                bboxes=[[1.0, 0.0, 2.0, 2.0]],
                occlusion=["slight_occlusion"],
            )
        ],
        categories=[Category(id=3, name="Cat")],
    )
    validate_dataset(dataset)
    assert isinstance(dataset.videos, tuple)
    assert isinstance(dataset.annotations[0].segmentations, tuple)
    written = write_annotations(dataset, tmp_path / "built.json")
    assert json.loads(written.read_text())["categories"] == [{"id": 3, "name": "Cat"}]
    assert load_annotations(written) == dataset


Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _append_copy(collection: str, index: int) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        payload[collection].append(copy.deepcopy(payload[collection][index]))

    return mutate


BROKEN_FILES = [
    # (case, mutation, record, field, expected text)
    ("videos missing", _delete(("videos",)), None, "videos", "missing"),
    ("videos not a list", _set(("videos",), {"id": 1}), None, "videos", "expected a list, got an object"),
    ("categories missing", _delete(("categories",)), None, "categories", "missing"),
    ("video not an object", _set(("videos", 1), [9]), "videos[1]", None, "expected an object, got a list"),
    ("video id missing", _delete(("videos", 1, "id")), "videos[1]", "id", "missing"),
    (
        "video id a string",
        _set(("videos", 1, "id"), "9"),
        "videos[1]",
        "id",
        "expected an integer, got a string",
    ),
    ("video id a boolean", _set(("videos", 1, "id"), True), "videos[1]", "id", "got true"),
    ("width zero", _set(("videos", 0, "width"), 0), "videos[0] (id 7)", "width", "expected an integer >= 1"),
    ("height a float", _set(("videos", 0, "height"), 4.0), "videos[0] (id 7)", "height", "got 4.0"),
    ("length missing", _delete(("videos", 0, "length")), "videos[0] (id 7)", "length", "missing"),
    (
        "file_names not a list",
        _set(("videos", 0, "file_names"), "a"),
        "videos[0] (id 7)",
        "file_names",
        "list",
    ),
    (
        "file name not a string",
        _set(("videos", 0, "file_names", 2), 3),
        "videos[0] (id 7)",
        "file_names[2]",
        "expected a string, got 3",
    ),
    (
        "file_names count != length",
        _set(("videos", 0, "file_names"), ["a/00000.jpg"]),
        "videos[0] (id 7)",
        "file_names",
        "expected 3 entries (the video's length), got 1",
    ),
    (
        "duplicate video id",
        _set(("videos", 1, "id"), 7),
        "videos[1] (id 7)",
        "id",
        "videos[0] has the same id",
    ),
    ("category name missing", _delete(("categories", 0, "name")), "categories[0] (id 1)", "name", "missing"),
    (
        "supercategory a number",
        _set(("categories", 0, "supercategory"), 3),
        "categories[0] (id 1)",
        "supercategory",
        "expected a string or null",
    ),
    ("duplicate category id", _set(("categories", 1, "id"), 1), "categories[1] (id 1)", "id", "same id"),
    ("annotations an object", _set(("annotations",), {}), None, "annotations", "expected a list"),
    ("track id missing", _delete(("annotations", 2, "id")), "annotations[2]", "id", "missing"),
    ("duplicate track id", _append_copy("annotations", 0), "annotations[3] (id 1)", "id", "annotations[0]"),
    (
        "track of an unknown video",
        _set(("annotations", 1, "video_id"), 8),
        "annotations[1] (id 2)",
        "video_id",
        "expected the id of a video in the file, got 8",
    ),
    (
        "unknown category",
        _set(("annotations", 1, "category_id"), 40),
        "annotations[1] (id 2)",
        "category_id",
        "expected the id of a category in the file, got 40",
    ),
    ("iscrowd not 0/1", _set(("annotations", 0, "iscrowd"), 2), "annotations[0] (id 1)", "iscrowd", "0 or 1"),
    (
        "iscrowd missing",
        _delete(("annotations", 0, "iscrowd")),
        "annotations[0] (id 1)",
        "iscrowd",
        "missing",
    ),
    (
        "segmentations not a list",
        _set(("annotations", 0, "segmentations"), None),
        "annotations[0] (id 1)",
        "segmentations",
        "expected a list, got null",
    ),
    (
        "segmentations count != length",
        _set(("annotations", 0, "segmentations"), [None, None]),
        "annotations[0] (id 1)",
        "segmentations",
        "expected 3 entries (the length of video 7), got 2",
    ),
    (
        "areas count != length",
        _set(("annotations", 2, "areas"), [4, None, None]),
        "annotations[2] (id 5)",
        "areas",
        "expected 2 entries (the length of video 9), got 3",
    ),
    (
        "bboxes count != length",
        _set(("annotations", 1, "bboxes"), []),
        "annotations[1] (id 2)",
        "bboxes",
        "expected 3 entries",
    ),
    ("areas missing", _delete(("annotations", 1, "areas")), "annotations[1] (id 2)", "areas", "missing"),
    (
        "segmentation size != video size",
        _set(("annotations", 0, "segmentations", 2), encode_mask(_mask(5, 4, 0, 0, 1))),
        "annotations[0] (id 1)",
        "segmentations[2]",
        "expected RLE size [4, 5], got [5, 4]",
    ),
    (
        "uncompressed counts not covering the frame",
        _set(("annotations", 0, "segmentations", 0), {"size": [4, 5], "counts": [3, 4]}),
        "annotations[0] (id 1)",
        "segmentations[0]",
        "expected RLE counts summing to 20 (height x width), got 7",
    ),
    (
        "malformed compressed counts",
        _set(("annotations", 0, "segmentations", 2), {"size": [4, 5], "counts": "0 1"}),
        "annotations[0] (id 1)",
        "segmentations[2]",
        "got the character ' '",
    ),
    (
        "RLE without counts",
        _set(("annotations", 0, "segmentations", 2), {"size": [4, 5]}),
        "annotations[0] (id 1)",
        "segmentations[2]",
        "missing counts",
    ),
    (
        "segmentation a string",
        _set(("annotations", 0, "segmentations", 2), "mask"),
        "annotations[0] (id 1)",
        "segmentations[2]",
        "expected an RLE dict or a list of polygons, got str",
    ),
    (
        "polygon with two points",
        _set(("annotations", 1, "segmentations", 1), [[1, 1, 4, 1]]),
        "annotations[1] (id 2)",
        "segmentations[1]",
        "even number (>= 6) of coordinates, got 4",
    ),
    (
        "area negative",
        _set(("annotations", 0, "areas", 0), -1),
        "annotations[0] (id 1)",
        "areas[0]",
        "expected a non-negative number or null",
    ),
    (
        "bbox with three numbers",
        _set(("annotations", 0, "bboxes", 2), [1, 1, 3]),
        "annotations[0] (id 1)",
        "bboxes[2]",
        "expected [x, y, w, h] as four finite numbers or null",
    ),
    (
        "bad occlusion label",
        _set(("annotations", 1, "occlusion", 1), "partial_occlusion"),
        "annotations[1] (id 2)",
        "occlusion[1]",
        "expected one of no_occlusion, slight_occlusion, severe_occlusion or null, got 'partial_occlusion'",
    ),
    (
        "occlusion count != length",
        _set(("annotations", 1, "occlusion"), ["no_occlusion"]),
        "annotations[1] (id 2)",
        "occlusion",
        "expected 3 entries",
    ),
    (
        "occlusion not a list",
        _set(("annotations", 1, "occlusion"), "no_occlusion"),
        "annotations[1] (id 2)",
        "occlusion",
        "expected a list, got a string",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "record", "field", "expected"),
    [case[1:] for case in BROKEN_FILES],
    ids=[case[0] for case in BROKEN_FILES],
)
def test_broken_file_names_file_record_and_field(
    tmp_path: Path, mutation: Mutation, record: str | None, field: str | None, expected: str
) -> None:
    payload = sample_payload()
    mutation(payload)
    path = write_payload(tmp_path / "broken.json", payload)
    with pytest.raises(FormatError) as raised:
        load_annotations(path)
    error = raised.value
    message = str(error)
    assert isinstance(error, UserError)
    assert error.path == str(path)
    assert message.startswith(f"{path}: ")
    assert error.record == record
    assert error.field == field
    if record is not None:
        assert f": {record}: " in message
    if field is not None:
        assert f"field '{field}'" in message
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('{"videos": [', "line 1, column 13"),
        ('{"videos": []\n,, "categories": []}', "line 2, column 2"),
        ("", "line 1, column 1"),
        ('{"videos": [{"id": 1,\n "width": 3', "line 2, column 12"),
    ],
)
def test_invalid_or_truncated_json_names_line_and_column(tmp_path: Path, text: str, position: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormatError, match="expected valid JSON") as raised:
        load_annotations(path)
    assert str(raised.value).startswith(f"{path}: {position}: ")


def test_truncated_file_says_so(tmp_path: Path) -> None:
    full = json.dumps(sample_payload())
    path = tmp_path / "cut.json"
    path.write_text(full[: len(full) // 2], encoding="utf-8")
    with pytest.raises(FormatError, match="ends too early"):
        load_annotations(path)


def test_non_utf8_and_non_object_files(tmp_path: Path) -> None:
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'{"videos": "\xff\xfe"}')
    with pytest.raises(FormatError, match="expected UTF-8"):
        load_annotations(binary)
    listed = write_payload(tmp_path / "list.json", [1, 2])
    with pytest.raises(FormatError, match="expected a JSON object at the top level, got a list"):
        load_annotations(listed)


def test_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_annotations(tmp_path / "absent.json")


def test_validate_dataset_checks_datasets_built_in_code() -> None:
    video = Video(id=1, width=3, height=2, length=2, file_names=["0.jpg", "1.jpg"])
    track = Track(
        id=4,
        video_id=1,
        category_id=1,
        iscrowd=0,
        segmentations=[None],
        areas=[None, None],
        bboxes=[None, None],
    )
    dataset = VideoDataset(videos=[video], annotations=[track], categories=[Category(id=1, name="x")])
    with pytest.raises(FormatError, match=r"<dataset>: annotations\[0\] \(id 4\): field 'segmentations'"):
        validate_dataset(dataset)

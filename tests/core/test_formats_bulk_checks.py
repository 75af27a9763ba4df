"""The whole-file checks of annotations and results accept exactly what the record-by-record checks accept.

Loading validates a well-formed file in a few passes over all its values and falls back to the checks
record by record, which name the first problem, when anything looks off. Each test breaks a valid file
at random places with awkward values (booleans for integers, floats, huge or negative numbers, tuples,
strings) and compares the outcome, accepted or the exact error, with the record-by-record checks alone.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from instanceformer.core.formats import (
    Category,
    TrackResult,
    Video,
    VideoDataset,
    annotation_checks,
    encode_mask,
    encode_mask_uncompressed,
    parse_annotations,
    parse_results,
    results,
)
from instanceformer.core.metrics import result_checks

_AWKWARD_NUMBERS = [
    True,
    False,
    0,
    -1,
    1,
    1.5,
    20.0,
    2**64,
    2**70,
    2**2000,
    float("nan"),
    float("inf"),
    "3",
    None,
]


def _mask(height: int, width: int, top: int, left: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top : top + 2, left : left + 2] = 1
    return mask


def _annotation_payload() -> dict[str, Any]:
    """Two videos; uncompressed, compressed and polygon masks; null areas and boxes; occlusion labels."""
    return {
        "videos": [
            {"id": 7, "width": 5, "height": 4, "length": 3, "file_names": ["a/0.jpg", "a/1.jpg", "a/2.jpg"]},
            {"id": 9, "width": 3, "height": 3, "length": 2, "file_names": ["b/0.jpg", "b/1.jpg"]},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "giant_panda"}],
        "annotations": [
            {
                "id": 1,
                "video_id": 7,
                "category_id": 2,
                "iscrowd": 0,
                "segmentations": [
                    encode_mask_uncompressed(_mask(4, 5, 0, 0)),
                    None,
                    encode_mask_uncompressed(_mask(4, 5, 1, 2)),
                ],
                "areas": [4, None, 4.0],
                "bboxes": [[0, 0, 2, 2], None, [2.0, 1.0, 2.0, 2.0]],
            },
            {
                "id": 2,
                "video_id": 7,
                "category_id": 1,
                "iscrowd": 1,
                "segmentations": [encode_mask(_mask(4, 5, 2, 3)), [[0.5, 0.5, 3.5, 0.5, 3.5, 2.5]], None],
                "areas": [4, 6, None],
                "bboxes": [[3, 2, 2, 2], [0, 0, 3, 2], None],
                "occlusion": ["no_occlusion", "severe_occlusion", None],
            },
            {
                "id": 5,
                "video_id": 9,
                "category_id": 1,
                "iscrowd": 0,
                "segmentations": [
                    encode_mask_uncompressed(_mask(3, 3, 1, 1)),
                    {"size": [3, 3], "counts": [9]},
                ],
                "areas": [4, 0],
                "bboxes": [[1, 1, 2, 2], [0, 0, 0, 0]],
            },
        ],
    }


def _results_payload() -> list[dict[str, Any]]:
    """Three predicted tracks of the videos above (compressed masks, one uncompressed)."""
    return [
        {
            "video_id": 7,
            "category_id": 2,
            "score": 0.9,
            "segmentations": [encode_mask(_mask(4, 5, 1, 1)), None, None],
        },
        {
            "video_id": 9,
            "category_id": 1,
            "score": 1,
            "segmentations": [None, encode_mask(_mask(3, 3, 0, 0))],
        },
        {
            "video_id": 7,
            "category_id": 1,
            "score": 0.25,
            "segmentations": [
                None,
                encode_mask_uncompressed(_mask(4, 5, 0, 1)),
                encode_mask(_mask(4, 5, 2, 2)),
            ],
        },
    ]


def _outcome(function: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", value)`` or ``("error", exception type name, message)``."""
    try:
        return "ok", function()
    except Exception as problem:  # every kind of failure must be the same on both paths
        return "error", type(problem).__name__, str(problem)


def _set(payload: Any, path: tuple[Any, ...], value: Any) -> None:
    """Put ``value`` at ``path``; nothing when an earlier change removed the place."""
    target = payload
    try:
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    except (TypeError, KeyError, IndexError):
        return


# (path, values): where a file is broken and with what.
_ANNOTATION_SITES = [
    (("annotations", 0, "segmentations", 0, "counts", 1), [*_AWKWARD_NUMBERS, [1]]),
    (
        ("annotations", 0, "segmentations", 2, "counts"),
        [[], [20], [1] * 20, [True] * 20, (9, 2, 9), "l0", None],
    ),
    (("annotations", 0, "segmentations", 0, "size"), [[True, 5], [4, 5.0], (4, 5), [4], [5, 4], "4x5", None]),
    (("annotations", 0, "segmentations", 0, "size", 0), _AWKWARD_NUMBERS),
    (("annotations", 2, "segmentations", 1, "size"), [[True, 3], [3, True], [1, 9], [9, 1]]),
    (("annotations", 2, "segmentations", 1, "counts"), [[True] * 9, [False, 9], [9, 0], [8, 1], [10, -1]]),
    (("annotations", 1, "segmentations", 0, "counts"), ["", "0 1", "l0", "=", b"=", 3]),
    (("annotations", 1, "segmentations", 1, 0, 2), _AWKWARD_NUMBERS),
    (("annotations", 1, "segmentations", 1), [[], [[1, 1, 2, 2]], "polygon", {}, {"size": [4, 5]}]),
    (("annotations", 0, "areas", 0), _AWKWARD_NUMBERS),
    (("annotations", 2, "areas", 1), _AWKWARD_NUMBERS),
    (
        ("annotations", 0, "bboxes", 2),
        [[1, 2, 3], (1, 2, 3, 4), "box", 3, [1, 2, 3, True], [1, 2, 3, 2**2000]],
    ),
    (("annotations", 0, "bboxes", 0, 3), _AWKWARD_NUMBERS),
    (("annotations", 1, "occlusion", 2), ["partial_occlusion", 3, ["no_occlusion"], "no_occlusion"]),
    (("annotations", 1, "iscrowd"), [True, 2, -1, 1]),
]


def _changes(sites: list[tuple[tuple[Any, ...], list[Any]]]) -> st.SearchStrategy:
    """One to three ``(site, value)`` index pairs into ``sites`` (value indices wrap around)."""
    return st.lists(st.tuples(st.integers(0, len(sites) - 1), st.integers(0, 30)), min_size=1, max_size=3)


def _broken(
    payload: Any, sites: list[tuple[tuple[Any, ...], list[Any]]], changes: list[tuple[int, int]]
) -> Any:
    for site, value in changes:
        path, values = sites[site]
        _set(payload, path, copy.deepcopy(values[value % len(values)]))
    return payload


@settings(max_examples=200, deadline=None)
@given(changes=_changes(_ANNOTATION_SITES))
@example(changes=[(1, 3)])  # a counts list of booleans alone, as long as the frame
@example(changes=[(5, 0)])
def test_annotation_checks_agree_with_the_record_by_record_checks(changes) -> None:
    payload = _broken(_annotation_payload(), _ANNOTATION_SITES, changes)
    bulk = _outcome(lambda: parse_annotations(copy.deepcopy(payload), "broken.json"))
    with mock.patch.object(annotation_checks, "_tracks_look_valid", return_value=False):
        by_record = _outcome(lambda: parse_annotations(copy.deepcopy(payload), "broken.json"))
    assert bulk == by_record


_RESULT_SITES = [
    ((1, "video_id"), _AWKWARD_NUMBERS),
    ((0, "category_id"), _AWKWARD_NUMBERS),
    ((2, "score"), _AWKWARD_NUMBERS),
    ((1, "segmentations"), [None, "masks", (None, None), {}]),
    ((0, "segmentations", 0), [{}, [], 3, {"size": [4, 5]}, {"counts": "d0"}, {"size": [4, 5], "counts": 3}]),
    ((0, "segmentations", 0, "size"), [[True, 5], [1, 5], [0, 5], [4, 5.0], (4, 5), [4], [4, 5, 1], "4x5"]),
    ((1, "segmentations", 1, "size", 1), _AWKWARD_NUMBERS),
    ((2, "segmentations", 2, "size"), [[1, 5], [True, 5], [1, True]]),
    ((2, "segmentations", 1, "size"), [[1, 5], [True, 5], [1, True]]),
    ((2, "segmentations", 1, "counts"), [b"d0", None, {}, "", [1, 2]]),
    ((1,), [3, None, [], "track"]),
]


@settings(max_examples=200, deadline=None)
@given(changes=_changes(_RESULT_SITES))
@example(changes=[(7, 0), (8, 1)])  # [1, 5] then [True, 5]: equal as tuples, one of them not integers
@example(changes=[(7, 1), (8, 0)])
def test_results_checks_agree_with_the_record_by_record_checks(changes) -> None:
    payload = _broken(_results_payload(), _RESULT_SITES, changes)
    bulk = _outcome(lambda: parse_results(copy.deepcopy(payload), "results.json"))
    with mock.patch.object(results, "_fast_parse_results", return_value=None):
        by_record = _outcome(lambda: parse_results(copy.deepcopy(payload), "results.json"))
    assert bulk == by_record


def _dataset() -> VideoDataset:
    return VideoDataset(
        videos=(Video(7, 5, 4, 3, ("a", "b", "c")), Video(9, 3, 3, 2, ("d", "e"))),
        annotations=(),
        categories=(Category(1, "person"), Category(2, "giant_panda")),
    )


_MASK_CHANGES = [
    {"size": [5, 4]},
    {"size": (4, 5)},
    {"size": [4.0, 5]},
    {"counts": b"d0"},
    {"counts": ""},
    {"counts": "0Z"},
    {"counts": "0a\x7f"},
    {"counts": "\u00e9"},
    {"counts": [1, 19]},
    {"counts": 3},
]


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_evaluator_result_checks_agree_with_the_result_by_result_checks(data) -> None:
    tracks = [
        TrackResult(track["video_id"], track["category_id"], track["score"], track["segmentations"])
        for track in _results_payload()
    ]
    index = data.draw(st.integers(0, len(tracks) - 1))
    track = tracks[index]
    change = data.draw(st.sampled_from(["video", "score", "length", "mask"]))
    if change == "video":
        tracks[index] = TrackResult(data.draw(st.sampled_from([8, 9, 7])), 1, 0.5, track.segmentations)
    elif change == "score":
        tracks[index] = TrackResult(
            track.video_id, 1, data.draw(st.sampled_from([0.5, 2**2000, float("nan")])), track.segmentations
        )
    elif change == "length":
        tracks[index] = TrackResult(track.video_id, 1, 0.5, track.segmentations[:-1])
    else:
        frame = next(frame for frame, mask in enumerate(track.segmentations) if mask is not None)
        changed = {**track.segmentations[frame], **data.draw(st.sampled_from(_MASK_CHANGES))}
        segmentations = list(track.segmentations)
        segmentations[frame] = changed
        tracks[index] = TrackResult(track.video_id, 1, 0.5, segmentations)
    bulk = _outcome(lambda: result_checks.check_results(tracks, _dataset(), "results.json"))
    with mock.patch.object(result_checks, "_looks_valid", return_value=False):
        one_by_one = _outcome(lambda: result_checks.check_results(tracks, _dataset(), "results.json"))
    assert bulk == one_by_one


def test_valid_files_take_the_whole_file_path() -> None:
    dataset = parse_annotations(_annotation_payload())
    assert annotation_checks._tracks_look_valid(dataset, set(dataset.category_ids()))
    parsed = results._fast_parse_results(_results_payload())
    assert parsed is not None and parsed == parse_results(_results_payload())
    compressed_only = [
        track for track in parsed if all(isinstance(m["counts"], str) for m in track.segmentations if m)
    ]
    assert len(compressed_only) == 2
    assert result_checks._looks_valid(compressed_only, _dataset())

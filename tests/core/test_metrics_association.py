"""The association metrics (HOTA, identity, CLEAR continuity) on hand-computed cases, their selection
in the evaluator, the per-video reports, and properties of random cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from instanceformer.core.errors import UserError
from instanceformer.core.formats import (
    Category,
    Track,
    TrackResult,
    Video,
    VideoDataset,
    encode_mask,
    encode_mask_uncompressed,
    to_compressed,
    write_annotations,
    write_results_json,
)
from instanceformer.core.metrics import (
    AREA_METRICS,
    HOTA_METRICS,
    IDENTITY_METRICS,
    association_reports,
    evaluate_files,
    evaluate_results,
    metrics_table,
    select_metric_sets,
)
from instanceformer.core.metrics.category_blocks import CategoryBlocks
from instanceformer.core.metrics.clear import clear_matches
from instanceformer.core.metrics.hota import frame_matches, track_alignment

HEIGHT, WIDTH = 10, 10
ASSOCIATION = ("hota", "identity")


def _box(top: int, left: int, height: int, width: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[top : top + height, left : left + width] = 1
    return mask


def _video(video_id: int, num_frames: int) -> Video:
    return Video(
        video_id, WIDTH, HEIGHT, num_frames, tuple(f"v{video_id}/{f}.jpg" for f in range(num_frames))
    )


def _track(track_id: int, video_id: int, masks: list, category_id: int = 1, iscrowd: int = 0) -> Track:
    return Track(
        id=track_id,
        video_id=video_id,
        category_id=category_id,
        iscrowd=iscrowd,
        segmentations=tuple(None if m is None else encode_mask_uncompressed(m) for m in masks),
        areas=tuple(None if m is None else int(m.sum()) for m in masks),
        bboxes=tuple(None for _ in masks),
    )


def _result(video_id: int, masks: list, category_id: int = 1, score: float = 0.9) -> TrackResult:
    return TrackResult(
        video_id, category_id, score, tuple(None if m is None else encode_mask(m) for m in masks)
    )


def _dataset(num_frames: int, tracks: list[Track], num_categories: int = 1) -> VideoDataset:
    categories = tuple(Category(index, f"c{index}") for index in range(1, num_categories + 1))
    return VideoDataset(videos=(_video(1, num_frames),), annotations=tuple(tracks), categories=categories)


A = _box(0, 0, 2, 5)  # 10 pixels
B = _box(6, 5, 2, 5)  # 10 pixels, far from A
A_SIX = _box(0, 0, 2, 3)  # 6 pixels of A: IoU 0.6
FAR = _box(5, 0, 3, 3)


def _check(summary: dict[str, float], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert summary[name] == pytest.approx(value, abs=1e-12), name


def test_perfect_single_track() -> None:
    dataset = _dataset(4, [_track(1, 1, [A] * 4)])
    summary = evaluate_results([_result(1, [A] * 4)], dataset, metrics=ASSOCIATION)
    _check(summary, {name: 1.0 for name in ("HOTA", "DetA", "AssA", "LocA", "HOTA0", "IDF1", "HOTA_pooled")})
    _check(summary, {"IDTP": 4, "IDFP": 0, "IDFN": 0, "IDSW": 0, "Frag": 0, "MT": 1, "PT": 0, "ML": 0})


def test_track_handed_over_to_a_second_prediction_is_one_id_switch() -> None:
    dataset = _dataset(4, [_track(1, 1, [A] * 4)])
    results = [_result(1, [A, A, None, None]), _result(1, [None, None, A, A])]
    summary = evaluate_results(results, dataset, metrics=ASSOCIATION)
    # Each pair: 2 true positives, association 2 / (4 + 2 - 2).
    _check(summary, {"DetA": 1.0, "AssA": 0.5, "AssRe": 0.5, "AssPr": 1.0, "HOTA": math.sqrt(0.5)})
    _check(summary, {"IDTP": 2, "IDFP": 2, "IDFN": 2, "IDF1": 0.5, "IDP": 0.5, "IDR": 0.5})
    _check(summary, {"IDSW": 1, "Frag": 0, "MT": 1})


def test_swapped_identities() -> None:
    dataset = _dataset(4, [_track(1, 1, [A] * 4), _track(2, 1, [B] * 4)])
    results = [_result(1, [A, A, B, B]), _result(1, [B, B, A, A])]
    summary = evaluate_results(results, dataset, metrics=ASSOCIATION)
    # Four pairs of 2 true positives, each scoring 2 / (4 + 4 - 2).
    _check(summary, {"DetA": 1.0, "AssA": 1 / 3, "HOTA": math.sqrt(1 / 3), "IDF1": 0.5, "IDSW": 2, "MT": 2})


def test_a_gap_fragments_only_where_the_frame_is_visited() -> None:
    truth = _track(1, 1, [A] * 4)
    followed = _result(1, [A, A, None, A])
    unvisited = evaluate_results([followed], _dataset(4, [truth]), metrics=ASSOCIATION)
    # Frame 2 has no prediction at all: trackeval skips it, so the track is not fragmented.
    _check(unvisited, {"DetA": 0.75, "AssA": 0.75, "HOTA": 0.75, "IDF1": 6 / 7, "Frag": 0, "PT": 1, "MT": 0})
    stray = _result(1, [None, None, FAR, None], score=0.1)
    visited = evaluate_results([followed, stray], _dataset(4, [truth]), metrics=ASSOCIATION)
    _check(visited, {"DetA": 0.6, "AssA": 0.75, "HOTA": math.sqrt(0.45), "Frag": 1, "IDSW": 0})


def test_absent_ground_truth_in_a_visited_frame_interrupts_its_matching() -> None:
    dataset = _dataset(3, [_track(1, 1, [A, None, A]), _track(2, 1, [B, B, B])])
    results = [_result(1, [A, None, A]), _result(1, [B, B, B])]
    summary = evaluate_results(results, dataset, metrics=ASSOCIATION)
    # Frame 1 is visited for the category (track 2), so track 1 resumes there: one fragmentation.
    _check(summary, {"HOTA": 1.0, "IDF1": 1.0, "IDSW": 0, "Frag": 1, "MT": 2})


def test_iou_of_one_half_passes_half_the_localisation_thresholds() -> None:
    dataset = _dataset(1, [_track(1, 1, [_box(0, 0, 2, 2)])])
    summary = evaluate_results([_result(1, [_box(0, 0, 1, 2)])], dataset, metrics=ASSOCIATION)
    # IoU 0.5: a true positive for alpha 0.05 ... 0.50 (10 of the 19 thresholds).
    _check(summary, {"DetA": 10 / 19, "AssA": 10 / 19, "HOTA": 10 / 19, "HOTA0": 1.0, "LocA": 14 / 19})
    _check(summary, {"IDF1": 1.0, "MT": 1})


def test_an_empty_mask_is_a_false_positive() -> None:
    dataset = _dataset(1, [_track(1, 1, [A])])
    results = [_result(1, [A]), _result(1, [np.zeros((HEIGHT, WIDTH), dtype=np.uint8)])]
    summary = evaluate_results(results, dataset, metrics=ASSOCIATION)
    _check(summary, {"DetA": 0.5, "AssA": 1.0, "HOTA": math.sqrt(0.5), "IDFP": 1, "IDF1": 2 / 3})


def test_continuing_match_beats_a_better_iou_but_hota_follows_the_iou() -> None:
    dataset = _dataset(2, [_track(1, 1, [A, A])])
    results = [_result(1, [A, A_SIX]), _result(1, [A_SIX, A])]
    summary = evaluate_results(results, dataset, metrics=ASSOCIATION)
    # CLEAR keeps the first prediction (IoU 0.6 + continuation) over the second (IoU 1) in frame 1.
    _check(summary, {"IDSW": 0, "MT": 1, "IDTP": 2, "IDFP": 2, "IDF1": 2 / 3})
    # HOTA: both pairs have alignment 1/3, so each frame takes its IoU-1 prediction.
    _check(summary, {"DetA": 0.5, "AssA": 1 / 3, "HOTA": math.sqrt(1 / 6), "LocA": 1.0})
    report = association_reports(results, dataset)
    assert report[0]["tracks"][0]["predictions"] == [0]


def test_categories_are_averaged_including_empty_ones() -> None:
    dataset = _dataset(2, [_track(1, 1, [A, A])], num_categories=3)
    perfect = _result(1, [A, A])
    summary = evaluate_results([perfect], dataset, metrics=ASSOCIATION)
    _check(summary, {"HOTA": 1 / 3, "HOTA_pooled": 1.0, "IDF1": 1 / 3, "IDF1_pooled": 1.0, "LocA": 1.0})
    stray = _result(1, [B, B], category_id=2)
    with_stray = evaluate_results([perfect, stray], dataset, metrics=ASSOCIATION)
    _check(with_stray, {"HOTA": 1 / 3, "DetA_pooled": 0.5, "IDFP": 2})


def test_unlisted_categories_are_dropped_and_scores_do_not_matter() -> None:
    dataset = _dataset(2, [_track(1, 1, [A, A]), _track(2, 1, [B, B], iscrowd=1)])
    confident = evaluate_results([_result(1, [A, A])], dataset, metrics=ASSOCIATION)
    unsure = evaluate_results(
        [_result(1, [A, A], score=0.001), _result(1, [B, B], category_id=99)], dataset, metrics=ASSOCIATION
    )
    assert unsure == confident
    # The crowd track counts as ordinary ground truth, here missed.
    _check(confident, {"DetA": 0.5, "IDFN": 2, "ML": 1, "MT": 1})


def test_reports_follow_each_ground_truth_track() -> None:
    dataset = VideoDataset(
        videos=(_video(1, 4), _video(2, 2)),
        annotations=(_track(7, 1, [A] * 4), _track(8, 1, [None] * 4), _track(9, 2, [B, B])),
        categories=(Category(1, "c1"),),
    )
    results = [_result(2, [B, B]), _result(1, [A, A, None, None]), _result(1, [None, None, A, None])]
    results.append(_result(1, [None, None, None, FAR]))
    reports = association_reports(results, dataset)
    json.dumps(reports)
    assert [report["video_id"] for report in reports] == [1, 2]
    first, missing = reports[0]["tracks"]
    assert first == {
        "track_id": 7,
        "category_id": 1,
        "frames": 4,
        "tracked_frames": 3,
        "id_switches": 1,
        "fragmentations": 0,
        "coverage": "partially_tracked",
        "predictions": [1, 2],
    }
    assert missing["coverage"] is None and missing["frames"] == 0 and missing["predictions"] == []
    assert reports[0]["IDSW"] == 1 and reports[0]["PT"] == 1
    assert reports[1]["HOTA"] == pytest.approx(1.0) and reports[1]["tracks"][0]["predictions"] == [0]


def test_selection_keeps_ap_unchanged_and_orders_the_keys() -> None:
    dataset = _dataset(4, [_track(1, 1, [A] * 4), _track(2, 1, [B] * 4)])
    results = [_result(1, [A, A, B, B]), _result(1, [B, B, A, A], score=0.5)]
    default = evaluate_results(results, dataset)
    assert list(default) == list(AREA_METRICS)
    everything = evaluate_results(results, dataset, metrics="identity, AP,hota")
    assert list(everything) == list(AREA_METRICS) + list(HOTA_METRICS) + list(IDENTITY_METRICS)
    assert {name: everything[name] for name in default} == default
    assert list(evaluate_results(results, dataset, metrics=["identity"])) == list(IDENTITY_METRICS)


def test_metric_set_names_are_checked() -> None:
    assert select_metric_sets("hota,ap") == ("ap", "hota")
    assert select_metric_sets(["identity", "identity"]) == ("identity",)
    with pytest.raises(UserError, match="unknown metric set"):
        select_metric_sets("ap,mota")
    with pytest.raises(UserError, match="no metric set"):
        select_metric_sets(" , ")


def test_evaluate_files_checks_the_metric_sets_before_reading(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown metric set"):
        evaluate_files(tmp_path / "missing.json", tmp_path / "missing.json", metrics="hota,idf")
    dataset = _dataset(2, [_track(1, 1, [A, A])])
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    results = write_results_json([_result(1, [A, None])], tmp_path / "results.json")
    summary = evaluate_files(results, annotations, metrics="ap,identity")
    assert summary["IDTP"] == 1 and summary["IDFN"] == 1 and "HOTA" not in summary and "AP" in summary


@pytest.mark.parametrize(("metrics", "passes"), [("ap,hota", 2), ("hota", 1), ("identity,hota", 1)])
def test_progress_counts_every_pass_over_the_videos(metrics: str, passes: int) -> None:
    dataset = VideoDataset(
        videos=(_video(1, 2), _video(2, 2), _video(3, 2)),
        annotations=(_track(1, 1, [A, A]),),
        categories=(Category(1, "c1"),),
    )
    calls: list[tuple[int, int]] = []
    evaluate_results(
        [_result(2, [A, A])], dataset, metrics=metrics, progress=lambda *call: calls.append(call)
    )
    assert calls == [(done, 3 * passes) for done in range(1, 3 * passes + 1)]


def test_metrics_table_shows_counts_as_integers() -> None:
    table = metrics_table({"HOTA": 0.5, "IDSW": 3, "MT": 0})
    cells = [list(column.cells) for column in table.columns]
    assert cells[1] == ["50.00", "3", "0"]
    assert table.columns[1].header == "value (% / count)"


# Properties of random cases.

_CELLS = [(0, 0), (0, 6), (6, 0), (6, 6)]  # one 4x4 cell of the 10x10 frame per track: no overlaps


@st.composite
def _separated_cases(draw: st.DrawFn) -> VideoDataset:
    """Videos whose ground-truth tracks each stay in their own cell of the frame (they never overlap)."""
    videos, tracks = [], []
    for video_id in range(1, draw(st.integers(1, 3)) + 1):
        num_frames = draw(st.integers(1, 5))
        videos.append(_video(video_id, num_frames))
        for top, left in draw(st.lists(st.sampled_from(_CELLS), max_size=4, unique=True)):
            masks = [
                _box(top + draw(st.integers(0, 2)), left + draw(st.integers(0, 2)), 2, 2)
                if draw(st.booleans())
                else None
                for _ in range(num_frames)
            ]
            tracks.append(_track(len(tracks) + 1, video_id, masks, category_id=draw(st.sampled_from([1, 2]))))
    categories = (Category(1, "c1"), Category(2, "c2"))
    return VideoDataset(videos=tuple(videos), annotations=tuple(tracks), categories=categories)


def _copies(dataset: VideoDataset, order: list[int], scores: list[float]) -> list[TrackResult]:
    """Predictions that copy the ground-truth tracks, in ``order``, with ``scores``."""
    tracks = [dataset.annotations[index] for index in order]
    return [
        TrackResult(
            track.video_id,
            track.category_id,
            score,
            tuple(None if s is None else to_compressed(s, HEIGHT, WIDTH) for s in track.segmentations),
        )
        for track, score in zip(tracks, scores, strict=True)
    ]


@settings(max_examples=40, deadline=None)
@given(dataset=_separated_cases(), data=st.data())
def test_copied_ground_truth_is_perfect(dataset: VideoDataset, data: st.DataObject) -> None:
    num_tracks = len(dataset.annotations)
    order = data.draw(st.permutations(range(num_tracks)))
    scores = data.draw(st.lists(st.floats(0.01, 1.0), min_size=num_tracks, max_size=num_tracks))
    summary = evaluate_results(_copies(dataset, list(order), scores), dataset, metrics=ASSOCIATION)
    present = sum(any(s is not None for s in track.segmentations) for track in dataset.annotations)
    detections = sum(s is not None for track in dataset.annotations for s in track.segmentations)
    expected_fraction = 1.0 if detections else 0.0
    _check(summary, {name: expected_fraction for name in ("HOTA_pooled", "DetA_pooled", "AssA_pooled")})
    _check(summary, {"IDF1_pooled": expected_fraction, "IDTP": detections, "IDFP": 0, "IDFN": 0})
    _check(summary, {"IDSW": 0, "MT": present, "PT": 0, "ML": 0})


_TINY_BOXES = [_box(0, 0, 2, 2), _box(0, 1, 2, 2), _box(1, 1, 3, 3), _box(0, 0, 5, 5), _box(0, 0, 0, 0)]


@st.composite
def _tied_cases(draw: st.DrawFn) -> tuple[VideoDataset, list[TrackResult]]:
    """Two videos of tracks drawn from a few overlapping boxes (ties, competition, empty masks)."""
    videos, tracks, results = [], [], []
    for video_id in (1, 2):
        num_frames = draw(st.integers(1, 4))
        videos.append(_video(video_id, num_frames))
        pick = st.lists(
            st.one_of(st.none(), st.sampled_from(_TINY_BOXES)), min_size=num_frames, max_size=num_frames
        )
        for _ in range(draw(st.integers(0, 3))):
            tracks.append(
                _track(len(tracks) + 1, video_id, draw(pick), category_id=draw(st.sampled_from([1, 2])))
            )
        for _ in range(draw(st.integers(0, 4))):
            results.append(_result(video_id, draw(pick), category_id=draw(st.sampled_from([1, 2, 5]))))
    categories = (Category(1, "c1"), Category(2, "c2"))
    return VideoDataset(videos=tuple(videos), annotations=tuple(tracks), categories=categories), results


@settings(max_examples=60, deadline=None)
@given(case=_tied_cases())
def test_counts_add_up_and_scores_are_bounded(case: tuple[VideoDataset, list[TrackResult]]) -> None:
    dataset, results = case
    summary = evaluate_results(results, dataset, metrics=ASSOCIATION)
    truth_detections = sum(s is not None for track in dataset.annotations for s in track.segmentations)
    predicted_detections = sum(
        s is not None for result in results if result.category_id in (1, 2) for s in result.segmentations
    )
    assert summary["IDTP"] + summary["IDFN"] == truth_detections
    assert summary["IDTP"] + summary["IDFP"] == predicted_detections
    present = sum(any(s is not None for s in track.segmentations) for track in dataset.annotations)
    assert summary["MT"] + summary["PT"] + summary["ML"] == present
    for name in (*HOTA_METRICS, "IDF1", "IDP", "IDR", "IDF1_pooled"):
        assert 0.0 <= summary[name] <= 1.0, name
    assert summary["DetA"] <= min(summary["DetRe"], summary["DetPr"]) + 1e-12
    assert summary["AssA"] <= min(summary["AssRe"], summary["AssPr"]) + 1e-12
    reversed_videos = VideoDataset(
        videos=dataset.videos[::-1], annotations=dataset.annotations, categories=dataset.categories
    )
    by_video = sorted(results, key=lambda result: -result.video_id)
    assert evaluate_results(by_video, reversed_videos, metrics=ASSOCIATION) == summary


@st.composite
def _similarities(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, CategoryBlocks]:
    """Per-frame IoUs of two categories' tracks, from a few values so that tracks compete and tie."""
    num_frames, num_truth, num_predicted = (
        draw(st.integers(1, 5)),
        draw(st.integers(0, 4)),
        draw(st.integers(0, 4)),
    )
    truth_categories = np.array(draw(st.lists(st.integers(0, 1), min_size=num_truth, max_size=num_truth)))
    predicted_categories = np.array(
        draw(st.lists(st.integers(0, 1), min_size=num_predicted, max_size=num_predicted))
    )
    blocks = CategoryBlocks(truth_categories.astype(np.int64), predicted_categories.astype(np.int64), 2)
    truth_present = np.array(
        draw(st.lists(st.booleans(), min_size=num_frames * num_truth, max_size=num_frames * num_truth))
    )
    predicted_present = np.array(
        draw(
            st.lists(st.booleans(), min_size=num_frames * num_predicted, max_size=num_frames * num_predicted)
        )
    )
    truth_present = truth_present.reshape(num_frames, num_truth).astype(bool)
    predicted_present = predicted_present.reshape(num_frames, num_predicted).astype(bool)
    values = draw(
        st.lists(
            st.sampled_from([0.0, 0.0, 0.3, 0.5, 0.6, 0.6, 1.0]),
            min_size=num_frames * num_truth * num_predicted,
            max_size=num_frames * num_truth * num_predicted,
        )
    )
    similarity = np.array(values, dtype=np.float64).reshape(num_frames, num_truth, num_predicted)
    similarity *= truth_present[:, :, None] & predicted_present[:, None, :]
    similarity *= truth_categories[:, None] == predicted_categories[None, :]
    return similarity, truth_present, predicted_present, blocks


def _every_frame_hota(similarity, truth_present, predicted_present, blocks) -> np.ndarray:
    """HOTA's matching with the Hungarian algorithm run on every (frame, category) block."""
    alignment = track_alignment(similarity, truth_present, predicted_present)
    matched = np.zeros(similarity.shape, dtype=bool)
    for frame in range(similarity.shape[0]):
        for category in range(blocks.num_categories):
            rows, columns = blocks.block(category, truth_present[frame], predicted_present[frame])
            block = np.ix_(rows, columns)
            match_rows, match_columns = linear_sum_assignment(-(alignment[block] * similarity[frame][block]))
            matched[frame, rows[match_rows], columns[match_columns]] = True
    return matched & (similarity > 0)


def _every_frame_clear(similarity, truth_present, predicted_present, blocks) -> np.ndarray:
    """CLEAR's matching frame by frame with the Hungarian algorithm on every visited block."""
    matches = np.full(similarity.shape[:2], -1)
    for category in range(blocks.num_categories):
        previous = None
        for frame in range(similarity.shape[0]):
            rows, columns = blocks.block(category, truth_present[frame], predicted_present[frame])
            if not rows.size or not columns.size:
                continue
            block = similarity[frame][np.ix_(rows, columns)]
            partners = matches[previous, rows] if previous is not None else np.full(len(rows), -1)
            scores = 1000.0 * (columns[None, :] == partners[:, None]) + block
            scores[block < 0.5 - np.finfo(float).eps] = 0.0
            match_rows, match_columns = linear_sum_assignment(-scores)
            kept = scores[match_rows, match_columns] > np.finfo(float).eps
            matches[frame, rows[match_rows[kept]]] = columns[match_columns[kept]]
            previous = frame
    return matches


@settings(max_examples=200, deadline=None)
@given(case=_similarities())
def test_matching_only_where_tracks_compete_equals_matching_everywhere(case) -> None:
    similarity, truth_present, predicted_present, blocks = case
    assert np.array_equal(
        frame_matches(similarity, truth_present, predicted_present, blocks),
        _every_frame_hota(similarity, truth_present, predicted_present, blocks),
    )
    assert np.array_equal(
        clear_matches(similarity, truth_present, predicted_present, blocks),
        _every_frame_clear(similarity, truth_present, predicted_present, blocks),
    )

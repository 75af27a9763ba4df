"""The evaluator on hand-computed cases, OVIS occlusion AP, mask encodings, errors and helpers."""

from __future__ import annotations

import gc
import math
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import (
    Category,
    Track,
    TrackResult,
    Video,
    VideoDataset,
    decode_segmentation,
    encode_mask,
    encode_mask_uncompressed,
    to_compressed,
    write_annotations,
    write_results_json,
    write_results_zip,
)
from instanceformer.core.metrics import (
    AREA_METRICS,
    OCCLUSION_METRICS,
    compute_evaluation,
    evaluate_files,
    evaluate_results,
    evaluate_short_long,
    evaluator,
    metrics_table,
    occlusion_score,
    prepare_ground_truth,
)
from tests.support.evaluation_cases import EvaluationCaseSpec, synthetic_evaluation_case

HEIGHT, WIDTH = 10, 10


def _box(rows: tuple[int, int], columns: tuple[int, int]) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[rows[0] : rows[1], columns[0] : columns[1]] = 1
    return mask


def _video(video_id: int, num_frames: int) -> Video:
    return Video(
        video_id, WIDTH, HEIGHT, num_frames, tuple(f"v{video_id}/{f}.jpg" for f in range(num_frames))
    )


def _track(track_id, video_id, masks, category_id=1, iscrowd=0, occlusion=None) -> Track:
    return Track(
        id=track_id,
        video_id=video_id,
        category_id=category_id,
        iscrowd=iscrowd,
        segmentations=tuple(None if m is None else encode_mask_uncompressed(m) for m in masks),
        areas=tuple(None if m is None else int(m.sum()) for m in masks),
        bboxes=tuple(None for _ in masks),
        occlusion=occlusion,
    )


def _result(video_id, masks, score, category_id=1) -> TrackResult:
    return TrackResult(
        video_id, category_id, score, tuple(None if m is None else encode_mask(m) for m in masks)
    )


def _dataset(tracks, videos, num_categories=2) -> VideoDataset:
    categories = tuple(Category(index, f"class{index}") for index in range(1, num_categories + 1))
    return VideoDataset(videos=tuple(videos), annotations=tuple(tracks), categories=categories)


TRUTH_A = [_box((0, 4), (0, 4)), _box((0, 4), (0, 4))]
TRUTH_B = [_box((6, 10), (6, 10)), None]
# IoU with B: intersection 16, union 16 + 6 = 22 -> 0.727..., matches at thresholds 0.50 to 0.70 only
PARTIAL_B = [_box((6, 10), (6, 10)), _box((6, 8), (6, 9))]


def _hand_case(duplicate_score: float, partial_score: float) -> tuple[VideoDataset, list[TrackResult]]:
    dataset = _dataset(
        [_track(1, 1, TRUTH_A), _track(2, 1, TRUTH_B)], [_video(1, 2), _video(2, 2)], num_categories=2
    )
    results = [
        _result(1, TRUTH_A, 0.9),
        _result(1, TRUTH_A, duplicate_score),  # duplicate of A: a false positive once A is taken
        _result(1, PARTIAL_B, partial_score),
        _result(1, TRUTH_A, 0.95, category_id=2),  # category without ground truth: never counted
    ]
    return dataset, results


def test_hand_computed_case() -> None:
    dataset, results = _hand_case(duplicate_score=0.7, partial_score=0.8)
    metrics = evaluate_results(results, dataset)
    # thresholds 0.50-0.70: TP, TP, FP -> precision 1 at every recall; 0.75-0.95: TP, FP, FP -> 51/101
    assert metrics["AP"] == pytest.approx((1 + 51 / 101) / 2, abs=1e-12)
    assert metrics["AP50"] == pytest.approx(1.0, abs=1e-12)
    assert metrics["AP75"] == pytest.approx(51 / 101, abs=1e-12)
    assert metrics["AR1"] == pytest.approx(0.5, abs=1e-12)
    assert metrics["AR10"] == pytest.approx(0.75, abs=1e-12)
    assert metrics["AR100"] == pytest.approx(0.75, abs=1e-12)
    assert metrics["APs"] == pytest.approx(metrics["AP"], abs=1e-12)
    assert metrics["APm"] == metrics["APl"] == metrics["ARm"] == metrics["ARl"] == -1.0
    assert list(metrics) == list(AREA_METRICS)


def test_tied_scores_keep_file_order() -> None:
    dataset, results = _hand_case(duplicate_score=0.8, partial_score=0.8)
    metrics = evaluate_results(results, dataset)
    # at 0.50-0.70 the duplicate (listed first) now comes before the partial match: TP, FP, TP
    low = (51 + 50 * 2 / 3) / 101
    assert metrics["AP50"] == pytest.approx(low, abs=1e-12)
    assert metrics["AP"] == pytest.approx((5 * low + 5 * 51 / 101) / 10, abs=1e-12)


def test_crowd_truth_makes_matching_predictions_ignored() -> None:
    crowd = [_box((0, 6), (0, 6))]
    regular = [_box((7, 10), (7, 10))]
    dataset = _dataset([_track(1, 1, crowd, iscrowd=1), _track(2, 1, regular)], [_video(1, 1)])
    # two predictions on the crowd region: both ignored (a crowd track is never used up)
    results = [_result(1, crowd, 0.9), _result(1, crowd, 0.8), _result(1, regular, 0.7)]
    metrics = evaluate_results(results, dataset)
    assert metrics["AP"] == pytest.approx(1.0, abs=1e-12)
    assert metrics["AR1"] == pytest.approx(0.0, abs=1e-12)  # the best-scored prediction hits the crowd
    assert metrics["AR10"] == pytest.approx(1.0, abs=1e-12)


def test_occlusion_scores() -> None:
    assert occlusion_score(("no_occlusion", "no_occlusion", "slight_occlusion", None)) == 0.125
    assert (
        occlusion_score(("slight_occlusion", "severe_occlusion", "slight_occlusion", "slight_occlusion"))
        == 0.5
    )
    assert occlusion_score(("severe_occlusion", "severe_occlusion", "no_occlusion", None)) == 0.75
    assert math.isnan(occlusion_score((None, None)))
    assert math.isnan(occlusion_score(None))


def test_ovis_occlusion_average_precision() -> None:
    light = [_box((0, 3), (0, 3))] * 4
    medium_and_heavy = [_box((0, 3), (5, 8))] * 4  # score exactly 0.5: in both ranges
    heavy = [_box((5, 8), (0, 3))] * 4
    tracks = [
        _track(1, 1, light, occlusion=("no_occlusion", "no_occlusion", "slight_occlusion", None)),
        _track(
            2,
            1,
            medium_and_heavy,
            occlusion=("slight_occlusion", "severe_occlusion", "slight_occlusion", "slight_occlusion"),
        ),
        _track(3, 1, heavy, occlusion=("severe_occlusion", "severe_occlusion", "no_occlusion", None)),
    ]
    dataset = _dataset(tracks, [_video(1, 4)], num_categories=1)
    results = [
        _result(1, [_box((7, 10), (7, 10))] * 4, 0.95),  # false positive in every range
        _result(1, light, 0.9),
        _result(1, heavy, 0.8),
    ]
    metrics = evaluate_results(results, dataset)
    assert list(metrics) == list(AREA_METRICS) + list(OCCLUSION_METRICS)
    assert metrics["APlight"] == pytest.approx(0.5, abs=1e-12)
    assert metrics["APmedium"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["APheavy"] == pytest.approx(0.5 * 51 / 101, abs=1e-12)
    # the area subsets ignore occlusion: FP, TP, TP with 3 ground-truth tracks
    assert metrics["AR100"] == pytest.approx(2 / 3, abs=1e-12)


def _without_empty_tracks(dataset: VideoDataset) -> VideoDataset:
    kept = tuple(track for track in dataset.annotations if track.present_frames)
    return VideoDataset(dataset.videos, kept, dataset.categories)


def test_perfect_predictions_give_ap_one() -> None:
    dataset, _ = synthetic_evaluation_case(7, EvaluationCaseSpec(num_videos=6, num_frames=5))
    dataset = _without_empty_tracks(dataset)
    results = [
        TrackResult(
            track.video_id,
            track.category_id,
            1.0,
            tuple(None if s is None else to_compressed(s, 360, 480) for s in track.segmentations),
        )
        for track in dataset.annotations
        if not track.iscrowd
    ]
    metrics = evaluate_results(results, dataset)
    # AR1 stays below 1 where a video holds two tracks of one category
    defined = {name: value for name, value in metrics.items() if value != -1.0 and name != "AR1"}
    assert {"AP", "AP50", "AP75", "APs", "APm", "AR10", "AR100", "APlight", "APheavy"} <= set(defined)
    assert all(value == pytest.approx(1.0, abs=1e-12) for value in defined.values()), defined
    assert 0.5 < metrics["AR1"] <= 1.0


def _reencoded(dataset: VideoDataset, encode) -> VideoDataset:
    tracks = []
    for track in dataset.annotations:
        video = dataset.video(track.video_id)
        segmentations = tuple(
            None if s is None else encode(s, video.height, video.width) for s in track.segmentations
        )
        tracks.append(
            Track(
                track.id,
                track.video_id,
                track.category_id,
                track.iscrowd,
                segmentations,
                track.areas,
                track.bboxes,
                track.occlusion,
            )
        )
    return VideoDataset(dataset.videos, tuple(tracks), dataset.categories)


def test_compressed_and_uncompressed_ground_truth_give_identical_curves() -> None:
    dataset, results = synthetic_evaluation_case(11, EvaluationCaseSpec(num_videos=5, num_frames=4))
    compressed = _reencoded(dataset, to_compressed)
    first = compute_evaluation(results, dataset)
    second = compute_evaluation(results, compressed)
    np.testing.assert_array_equal(first.precision, second.precision)
    np.testing.assert_array_equal(first.recall, second.recall)


def _rectangle_polygon(rows: tuple[int, int], columns: tuple[int, int]) -> list[list[float]]:
    top, bottom = rows[0] - 0.5, rows[1] - 0.5
    left, right = columns[0] - 0.5, columns[1] - 0.5
    return [[left, top, right, top, right, bottom, left, bottom]]


def test_polygon_ground_truth_equals_its_rasterised_rle() -> None:
    spans = [((0, 4), (0, 5)), ((5, 9), (2, 8)), ((1, 3), (6, 10))]
    polygons = [_rectangle_polygon(*span) for span in spans]
    areas = [(r[1] - r[0]) * (c[1] - c[0]) for r, c in spans]
    polygon_tracks = [
        Track(i + 1, 1, 1, 0, (polygon, None), (area, None), (None, None))
        for i, (polygon, area) in enumerate(zip(polygons, areas, strict=True))
    ]
    dataset = _dataset(polygon_tracks, [_video(1, 2)], num_categories=1)
    rasterised = _reencoded(dataset, lambda s, h, w: encode_mask_uncompressed(decode_segmentation(s, h, w)))
    for track, span in zip(rasterised.annotations, spans, strict=True):
        np.testing.assert_array_equal(decode_segmentation(track.segmentations[0], HEIGHT, WIDTH), _box(*span))
    results = [
        _result(1, [_box((0, 4), (0, 4)), None], 0.9),
        _result(1, [_box((5, 9), (2, 8)), _box((0, 2), (0, 2))], 0.6),
        _result(1, [_box((1, 3), (7, 10)), None], 0.3),
    ]
    assert evaluate_results(results, dataset) == evaluate_results(results, rasterised)


def test_prepared_ground_truth_gives_the_same_curves() -> None:
    dataset, results = synthetic_evaluation_case(5, EvaluationCaseSpec(num_videos=4, num_frames=4))
    prepared = prepare_ground_truth(dataset)
    first = compute_evaluation(results, prepared)
    second = compute_evaluation(results, dataset)
    np.testing.assert_array_equal(first.precision, second.precision)
    assert first.precision.shape == (10, 101, len(dataset.categories), 7, 3)
    assert [subset.name for subset in first.subsets][:4] == ["all", "small", "medium", "large"]


def test_short_long_mean() -> None:
    short = synthetic_evaluation_case(1, EvaluationCaseSpec(num_videos=3, num_frames=3))
    long = synthetic_evaluation_case(2, EvaluationCaseSpec(num_videos=2, num_frames=8))
    combined = evaluate_short_long(short[1], short[0], long[1], long[0])
    assert combined["short"] == evaluate_results(short[1], short[0])
    assert combined["long"] == evaluate_results(long[1], long[0])
    for name, value in combined["mean"].items():
        if combined["short"][name] > -1 and combined["long"][name] > -1:
            assert value == pytest.approx((combined["short"][name] + combined["long"][name]) / 2)
        else:
            assert value == -1.0


def test_progress_is_reported_per_video() -> None:
    dataset, results = _hand_case(0.7, 0.8)
    calls = []
    evaluate_results(results, dataset, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: TrackResult(99, r.category_id, r.score, r.segmentations), "video_id"),
        (lambda r: TrackResult(r.video_id, r.category_id, r.score, r.segmentations[:1]), "segmentations"),
        (lambda r: TrackResult(r.video_id, r.category_id, float("nan"), r.segmentations), "score"),
        (
            lambda r: TrackResult(
                r.video_id, r.category_id, r.score, ({"size": [4, 4], "counts": "04"}, None)
            ),
            "segmentations[0].size",
        ),
        (
            lambda r: TrackResult(
                r.video_id, r.category_id, r.score, (encode_mask_uncompressed(TRUTH_A[0]), None)
            ),
            "segmentations[0].counts",
        ),
        (
            lambda r: TrackResult(
                r.video_id, r.category_id, r.score, ({"size": [10, 10], "counts": "0a\x7f"}, None)
            ),
            "segmentations[0].counts",
        ),
        (
            lambda r: TrackResult(
                r.video_id, r.category_id, r.score, ({"size": [10, 10], "counts": "0Z"}, None)
            ),
            "segmentations[0].counts",
        ),
    ],
)
def test_bad_results_name_the_record_and_field(change, field) -> None:
    dataset, results = _hand_case(0.7, 0.8)
    results[2] = change(results[2])
    with pytest.raises(FormatError) as caught:
        evaluate_results(results, dataset, source="preds.json")
    message = str(caught.value)
    assert message.startswith("preds.json: results[2]")
    assert f"field '{field}'" in message
    assert "\n" not in message


def test_ground_truth_without_annotations_is_a_user_error() -> None:
    dataset = VideoDataset(videos=(_video(1, 2),), annotations=None, categories=(Category(1, "a"),))
    with pytest.raises(UserError, match="no annotations"):
        evaluate_results([], dataset)


def test_no_predictions_give_zero_ap_and_empty_ground_truth_undefined() -> None:
    dataset, _ = _hand_case(0.7, 0.8)
    assert evaluate_results([], dataset)["AP"] == 0.0
    empty = VideoDataset(videos=(_video(1, 2),), annotations=(), categories=(Category(1, "a"),))
    assert set(evaluate_results([_result(1, TRUTH_A, 0.5)], empty).values()) == {-1.0}


def test_metrics_table_shows_percentages() -> None:
    table = metrics_table({"AP": 0.4231, "APl": -1.0})
    cells = [list(column.cells) for column in table.columns]
    assert cells[0] == ["AP", "APl"]
    assert cells[1] == ["42.31", "n/a"]


@pytest.mark.parametrize(
    ("seed", "spec"),
    [
        (2, EvaluationCaseSpec(num_videos=6, num_frames=5, predictions_per_video=15, num_categories=3)),
        (
            3,
            EvaluationCaseSpec(
                num_videos=5, num_frames=4, predictions_per_video=40, num_categories=2, score_step=0.25
            ),
        ),
    ],
)
def test_pairs_skipped_by_the_iou_bound_change_nothing(seed, spec) -> None:
    dataset, results = synthetic_evaluation_case(seed, spec)
    bound = evaluator.track_iou_upper_bounds
    skipped = []

    def recording_bound(predicted, truth, pairs):
        bounds = bound(predicted, truth, pairs)
        skipped.append(int((bounds[pairs] < 0.5).sum()))
        return bounds

    with mock.patch.object(evaluator, "track_iou_upper_bounds", recording_bound):
        pruned = compute_evaluation(results, dataset)
    assert sum(skipped) > 0
    every_pair = mock.patch.object(
        evaluator, "track_iou_upper_bounds", lambda predicted, truth, pairs: pairs.astype(np.float64)
    )
    with every_pair:
        complete = compute_evaluation(results, dataset)
    np.testing.assert_array_equal(pruned.precision, complete.precision)
    np.testing.assert_array_equal(pruned.recall, complete.recall)
    assert (pruned.precision > 0).any()


def test_evaluate_files_equals_evaluating_the_loaded_files(tmp_path: Path) -> None:
    spec = EvaluationCaseSpec(num_videos=4, num_frames=3, unknown_category_probability=0.0)
    dataset, results = synthetic_evaluation_case(8, spec)
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    expected = evaluate_results(results, dataset)
    calls = []
    for results_path in (
        write_results_json(results, tmp_path / "results.json"),
        write_results_zip(results, tmp_path / "results.zip"),
    ):
        metrics = evaluate_files(results_path, annotations, progress=lambda done, total: calls.append(total))
        assert metrics == expected
        assert gc.isenabled()
    assert calls == [4] * 8
    with pytest.raises(FileNotFoundError):
        evaluate_files(tmp_path / "absent.json", annotations)
    assert gc.isenabled()

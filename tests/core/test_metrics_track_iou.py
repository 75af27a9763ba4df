"""Track IoU of the evaluator against a direct pixel computation on decoded masks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.core.formats import Track, TrackResult, Video, encode_mask, encode_mask_uncompressed
from instanceformer.core.metrics import track_intersections, track_iou_matrix
from instanceformer.core.metrics.track_iou import track_iou_upper_bounds
from instanceformer.core.metrics.video_tracks import predicted_tracks, truth_tracks


def _random_masks(seed: int, num_tracks: int, num_frames: int, height: int, width: int) -> list[list]:
    """Per track and frame a random ``[height, width]`` mask, an empty mask, or ``None`` (absent)."""
    random = np.random.default_rng(seed)
    tracks = []
    for _ in range(num_tracks):
        frames = []
        density = random.uniform(0.05, 0.9)
        for _ in range(num_frames):
            draw = random.random()
            if draw < 0.2:
                frames.append(None)
            elif draw < 0.3:
                frames.append(np.zeros((height, width), dtype=np.uint8))
            else:
                frames.append((random.random((height, width)) < density).astype(np.uint8))
        tracks.append(frames)
    return tracks


def _direct_iou(first: list, second: list) -> float:
    """Sum of per-frame intersections over sum of per-frame unions, straight from the pixels."""
    intersection = union = 0
    for mask_a, mask_b in zip(first, second, strict=True):
        a = np.zeros(1, dtype=bool) if mask_a is None else mask_a.astype(bool)
        b = np.zeros(1, dtype=bool) if mask_b is None else mask_b.astype(bool)
        if mask_a is not None and mask_b is not None:
            intersection += int((a & b).sum())
            union += int((a | b).sum())
        else:
            union += int(a.sum()) + int(b.sum())
    return intersection / union if union else 0.0


def _prepare(predicted_masks: list, truth_masks: list, height: int, width: int):
    num_frames = len((predicted_masks or truth_masks)[0])
    video = Video(1, width, height, num_frames, tuple(f"v/{frame}.jpg" for frame in range(num_frames)))
    results = [
        TrackResult(1, 1, 0.5, tuple(None if mask is None else encode_mask(mask) for mask in frames))
        for frames in predicted_masks
    ]
    tracks = [
        Track(
            id=index + 1,
            video_id=1,
            category_id=1,
            iscrowd=0,
            segmentations=tuple(None if mask is None else encode_mask_uncompressed(mask) for mask in frames),
            areas=tuple(None if mask is None else int(mask.sum()) for mask in frames),
            bboxes=tuple(None for _ in frames),
        )
        for index, frames in enumerate(truth_masks)
    ]
    return predicted_tracks(results, video), truth_tracks(tracks, video)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    num_predicted=st.integers(1, 4),
    num_truth=st.integers(1, 4),
    num_frames=st.integers(1, 4),
    height=st.integers(1, 12),
    width=st.integers(1, 12),
)
def test_track_iou_matches_pixel_counts(seed, num_predicted, num_truth, num_frames, height, width) -> None:
    predicted_masks = _random_masks(seed, num_predicted, num_frames, height, width)
    truth_masks = _random_masks(seed + 1, num_truth, num_frames, height, width)
    predicted, truth = _prepare(predicted_masks, truth_masks, height, width)
    ious = track_iou_matrix(predicted, truth)
    expected = np.array([[_direct_iou(p, t) for t in truth_masks] for p in predicted_masks])
    assert ious.shape == (num_predicted, num_truth)
    np.testing.assert_array_equal(ious, expected)


def test_restricted_pairs_leave_other_entries_zero() -> None:
    height, width = 8, 9
    predicted_masks = _random_masks(3, 3, 3, height, width)
    truth_masks = _random_masks(4, 3, 3, height, width)
    predicted, truth = _prepare(predicted_masks, truth_masks, height, width)
    full = track_intersections(predicted, truth)
    rows, columns = np.array([0, 2]), np.array([1])
    restricted = track_intersections(predicted, truth, rows, columns)
    expected = np.zeros_like(full)
    expected[np.ix_(rows, columns)] = full[np.ix_(rows, columns)]
    np.testing.assert_array_equal(restricted, expected)
    assert full[np.ix_(rows, columns)].sum() > 0


def test_identical_tracks_have_iou_one_and_disjoint_tracks_zero() -> None:
    mask = np.zeros((6, 6), dtype=np.uint8)
    mask[1:4, 2:5] = 1
    other = np.zeros((6, 6), dtype=np.uint8)
    other[4:6, 0:2] = 1
    predicted, truth = _prepare([[mask, None, mask]], [[mask, None, mask], [other, other, None]], 6, 6)
    np.testing.assert_array_equal(track_iou_matrix(predicted, truth), [[1.0, 0.0]])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    num_predicted=st.integers(1, 4),
    num_truth=st.integers(1, 4),
    num_frames=st.integers(1, 4),
    side=st.integers(1, 10),
)
def test_upper_bound_is_never_below_the_iou(seed, num_predicted, num_truth, num_frames, side) -> None:
    predicted_masks = _random_masks(seed, num_predicted, num_frames, side, side + 1)
    truth_masks = _random_masks(seed + 1, num_truth, num_frames, side, side + 1)
    predicted, truth = _prepare(predicted_masks, truth_masks, side, side + 1)
    pairs = np.random.default_rng(seed).random((num_predicted, num_truth)) < 0.7
    bounds = track_iou_upper_bounds(predicted, truth, pairs)
    ious = track_iou_matrix(predicted, truth)
    assert (bounds[pairs] >= ious[pairs]).all()
    assert (bounds[~pairs] == 0).all()
    # a track against itself reaches its bound of 1
    same, _ = _prepare(predicted_masks, predicted_masks, side, side + 1)
    diagonal = np.eye(num_predicted, dtype=bool)
    nonempty = same.frame_areas.sum(axis=1) > 0
    np.testing.assert_array_equal(track_iou_upper_bounds(same, same, diagonal)[diagonal], nonempty * 1.0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), num_frames=st.integers(1, 4))
def test_pairs_restrict_the_computed_entries(seed, num_frames) -> None:
    predicted_masks = _random_masks(seed, 4, num_frames, 7, 6)
    truth_masks = _random_masks(seed + 1, 3, num_frames, 7, 6)
    predicted, truth = _prepare(predicted_masks, truth_masks, 7, 6)
    pairs = np.random.default_rng(seed).random((4, 3)) < 0.4
    full = track_intersections(predicted, truth)
    np.testing.assert_array_equal(track_intersections(predicted, truth, pairs=pairs), full * pairs)
    rows, columns = np.array([0, 3]), np.array([1, 2])
    expected = np.zeros_like(full)
    expected[np.ix_(rows, columns)] = full[np.ix_(rows, columns)]
    np.testing.assert_array_equal(
        track_intersections(predicted, truth, rows, columns, pairs=pairs), expected * pairs
    )

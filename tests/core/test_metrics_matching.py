"""Greedy matching against a plain loop transcription of the official evaluation's rule."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.core.metrics.matching import match_predictions
from instanceformer.core.metrics.parameters import IOU_THRESHOLDS, MATCHING_THRESHOLDS

_IOU_VALUES = np.array([0.0, 0.3, 0.5, 0.55, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0])


def _loop_matching(ious, truth_ignored, truth_crowd, prediction_outside, thresholds):
    """One subset: ground truth visited counted-first (stable), predictions by given order."""
    num_predictions, num_truth = ious.shape
    order = np.argsort(truth_ignored, kind="stable")
    matched = np.zeros((len(thresholds), num_predictions), dtype=bool)
    ignored = np.zeros((len(thresholds), num_predictions), dtype=bool)
    for t, threshold in enumerate(thresholds):
        truth_taken = np.zeros(num_truth, dtype=bool)
        for p in range(num_predictions):
            best_iou, best = min(threshold, 1 - 1e-10), -1
            for g in order:
                if truth_taken[g] and not truth_crowd[g]:
                    continue
                if best > -1 and not truth_ignored[best] and truth_ignored[g]:
                    break
                if ious[p, g] < best_iou:
                    continue
                best_iou, best = ious[p, g], g
            if best == -1:
                continue
            matched[t, p] = True
            ignored[t, p] = truth_ignored[best]
            truth_taken[best] = True
        ignored[t] |= ~matched[t] & prediction_outside
    return matched, ignored


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    num_predictions=st.integers(0, 6),
    num_truth=st.integers(0, 5),
    num_subsets=st.integers(1, 3),
)
def test_matching_equals_the_loop_rule(seed, num_predictions, num_truth, num_subsets) -> None:
    random = np.random.default_rng(seed)
    ious = random.choice(_IOU_VALUES, size=(num_predictions, num_truth))
    crowd = random.random(num_truth) < 0.25
    truth_ignored = (random.random((num_subsets, num_truth)) < 0.3) | crowd
    outside = random.random((num_subsets, num_predictions)) < 0.3
    matched, ignored = match_predictions(ious, truth_ignored, crowd, outside)
    assert matched.shape == ignored.shape == (num_subsets, len(IOU_THRESHOLDS), num_predictions)
    for subset in range(num_subsets):
        expected_matched, expected_ignored = _loop_matching(
            ious, truth_ignored[subset], crowd, outside[subset], MATCHING_THRESHOLDS
        )
        np.testing.assert_array_equal(matched[subset], expected_matched)
        np.testing.assert_array_equal(ignored[subset], expected_ignored)


def test_ties_go_to_the_last_listed_truth_and_counted_truth_wins_over_ignored() -> None:
    ious = np.array([[0.8, 0.8, 0.9], [0.8, 0.0, 0.0]])
    truth_ignored = np.array([[False, False, True]])
    crowd = np.array([False, False, True])
    matched, ignored = match_predictions(ious, truth_ignored, crowd, np.zeros((1, 2), dtype=bool))
    # up to IoU 0.8 the first prediction takes truth 1 (the last of the tie), not the crowd at 0.9;
    # above 0.8 only the crowd remains, which makes it ignored
    assert matched[0, :, 0].tolist() == [True] * 9 + [False]
    assert ignored[0, :, 0].tolist() == [False] * 7 + [True] * 2 + [False]
    # so truth 0 is still free for the second prediction
    assert matched[0, :, 1].tolist() == [True] * 7 + [False] * 3
    assert not ignored[0, :, 1].any()


def test_crowd_truth_absorbs_several_predictions() -> None:
    ious = np.array([[0.7], [0.7], [0.7]])
    matched, ignored = match_predictions(
        ious, np.array([[True]]), np.array([True]), np.zeros((1, 3), dtype=bool)
    )
    assert matched[0, 0].all() and ignored[0, 0].all()


def test_an_iou_of_exactly_the_threshold_matches() -> None:
    ious = np.array([[0.75], [0.9]])
    matched, _ = match_predictions(
        ious[:1], np.array([[False]]), np.array([False]), np.zeros((1, 1), dtype=bool)
    )
    assert matched[0, :, 0].tolist() == [True] * 6 + [False] * 4
    matched, _ = match_predictions(
        ious[1:], np.array([[False]]), np.array([False]), np.zeros((1, 1), dtype=bool)
    )
    # COCO's 0.90 threshold is one ulp below 0.9, so an IoU of 0.9 matches there too
    assert matched[0, :, 0].tolist() == [True] * 9 + [False]

"""Greedy matching of the predicted tracks of one video and category to its ground-truth tracks.

The rule is COCO's, run for every subset (area or occlusion range) and IoU threshold at once. Predictions
are visited by decreasing score. A prediction matches, among the ground-truth tracks it reaches with an
IoU of at least the threshold and that are still free (crowd tracks are never used up), the one with the
highest IoU, preferring tracks that count for the subset over ignored ones (crowd or out of range); among
equal IoUs the one listed last wins, as in COCO's loop. A prediction matched to an ignored track is
ignored; so is an unmatched prediction whose own area lies outside the subset's area range.
"""

from __future__ import annotations

import numpy as np

from instanceformer.core.metrics.parameters import MATCHING_THRESHOLDS


def _last_best(pool: np.ndarray, ious: np.ndarray) -> np.ndarray:
    """Index of the highest IoU inside ``pool`` ([..., num_truth] bool), the last one among ties: [...]."""
    num_truth = pool.shape[-1]
    scored = np.where(pool, ious, -1.0)  # [..., num_truth]
    return num_truth - 1 - np.argmax(scored[..., ::-1], axis=-1)


def match_predictions(
    ious: np.ndarray,
    truth_ignored: np.ndarray,
    truth_crowd: np.ndarray,
    prediction_outside: np.ndarray,
    thresholds: np.ndarray = MATCHING_THRESHOLDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Match predictions to ground truth for every subset and threshold.

    Args:
        ious: ``[num_predictions, num_truth]`` track IoUs, predictions sorted by decreasing score.
        truth_ignored: ``[num_subsets, num_truth]`` bool, ground truth that does not count in a subset.
        truth_crowd: ``[num_truth]`` bool, crowd tracks (ignored everywhere, may match many predictions).
        prediction_outside: ``[num_subsets, num_predictions]`` bool, predictions whose mean area lies
            outside the subset's area range.
        thresholds: ``[num_thresholds]`` IoU thresholds.

    Returns:
        ``(matched, ignored)``, each ``[num_subsets, num_thresholds, num_predictions]`` bool.
    """
    num_predictions, num_truth = ious.shape
    num_subsets = truth_ignored.shape[0]
    shape = (num_subsets, len(thresholds), num_predictions)
    matched = np.zeros(shape, dtype=bool)
    ignored = np.zeros(shape, dtype=bool)
    if num_predictions and num_truth:
        counts = ~truth_ignored[:, None, :]  # [num_subsets, 1, num_truth]
        taken = np.zeros((num_subsets, len(thresholds), num_truth), dtype=bool)
        # A prediction below the lowest threshold everywhere matches nothing and takes nothing.
        reachable = np.flatnonzero(ious.max(axis=1) >= np.min(thresholds))  # [num_reachable]
        for prediction in reachable.tolist():
            row = ious[prediction]  # [num_truth]
            # [num_subsets, num_thresholds, num_truth]
            candidates = (~taken | truth_crowd) & (row[None, :] >= thresholds[:, None])[None]
            counted = candidates & counts
            has_counted = counted.any(axis=-1)  # [num_subsets, num_thresholds]
            pool = np.where(has_counted[..., None], counted, candidates)
            has_match = pool.any(axis=-1)  # [num_subsets, num_thresholds]
            choice = _last_best(pool, row)  # [num_subsets, num_thresholds]
            matched[:, :, prediction] = has_match
            ignored[:, :, prediction] = has_match & ~has_counted
            subset_index, threshold_index = np.nonzero(has_match)
            taken[subset_index, threshold_index, choice[subset_index, threshold_index]] = True
    ignored |= ~matched & prediction_outside[:, None, :]
    return matched, ignored

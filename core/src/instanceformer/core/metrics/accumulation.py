"""Precision and recall curves from the matches of every video, with COCO's conventions.

For each category, subset and maximum number of detections, the first ``max_detections`` predictions of
every video (by decreasing score) are pooled in video-id order and sorted by decreasing score with a
stable sort (ties keep the pooled order). Ignored predictions are dropped; true positives and false
positives are counted cumulatively; recall is ``true_positives / counted_truth``, precision
``true_positives / (true_positives + false_positives + eps)`` made non-increasing from the right, and read
at 101 recall thresholds (the first position whose recall reaches the threshold; 0 beyond the last).
Entries are -1 where the category has no counted ground truth in the subset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from instanceformer.core.metrics.parameters import IOU_THRESHOLDS, MAX_DETECTIONS, RECALL_THRESHOLDS


@dataclass(frozen=True)
class VideoMatches:
    """The matching result of the predictions of one video, all categories together.

    Predictions of one category are contiguous and sorted by decreasing score. ``scores``,
    ``categories`` (index into the evaluated category ids) and ``ranks`` (position within the video's
    predictions of that category) are ``[num_predictions]``; ``matched`` and ``ignored``
    ``[num_subsets, num_thresholds, num_predictions]`` bool.
    """

    scores: np.ndarray
    categories: np.ndarray
    ranks: np.ndarray
    matched: np.ndarray
    ignored: np.ndarray


def _precision_at_recalls(true_positives: np.ndarray, false_positives: np.ndarray, counted: int) -> tuple:
    """Precision at the recall thresholds and the final recall of cumulative counts.

    ``true_positives`` and ``false_positives`` are ``[num_thresholds, num_kept]`` cumulative float64
    counts. Returns ``([num_thresholds, num_recall_thresholds], [num_thresholds])``.
    """
    num_thresholds, num_kept = true_positives.shape
    precision = np.zeros((num_thresholds, len(RECALL_THRESHOLDS)), dtype=np.float64)
    if num_kept == 0:
        return precision, np.zeros(num_thresholds, dtype=np.float64)
    recall = true_positives / counted  # [num_thresholds, num_kept]
    raw = true_positives / (false_positives + true_positives + np.spacing(1))  # [num_thresholds, num_kept]
    envelope = np.maximum.accumulate(raw[:, ::-1], axis=1)[:, ::-1]  # [num_thresholds, num_kept]
    for threshold in range(num_thresholds):
        positions = np.searchsorted(recall[threshold], RECALL_THRESHOLDS, side="left")  # [num_recall]
        reached = positions < num_kept
        precision[threshold, reached] = envelope[threshold, positions[reached]]
    return precision, recall[:, -1]


def accumulate(
    videos: Sequence[VideoMatches], counted_truth: np.ndarray, num_subsets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Precision ``[T, R, K, S, M]`` and recall ``[T, K, S, M]`` arrays (-1 where undefined).

    ``videos`` are in video-id order; ``counted_truth`` is ``[K, S]``, the ground-truth tracks of each
    category that count in each subset. T: IoU thresholds, R: recall thresholds, K: categories,
    S: subsets, M: maximum detections (1, 10, 100).
    """
    num_thresholds, num_recalls = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)
    num_categories, num_limits = len(counted_truth), len(MAX_DETECTIONS)
    precision = -np.ones((num_thresholds, num_recalls, num_categories, num_subsets, num_limits))
    recall = -np.ones((num_thresholds, num_categories, num_subsets, num_limits))
    empty = np.zeros((num_subsets, num_thresholds, 0), dtype=bool)
    scores = np.concatenate([np.zeros(0)] + [video.scores for video in videos])  # [num_pooled]
    categories = np.concatenate([np.zeros(0, dtype=np.int64)] + [video.categories for video in videos])
    ranks = np.concatenate([np.zeros(0, dtype=np.int64)] + [video.ranks for video in videos])
    matched = np.concatenate([empty] + [video.matched for video in videos], axis=-1)  # [S, T, num_pooled]
    ignored = np.concatenate([empty] + [video.ignored for video in videos], axis=-1)  # [S, T, num_pooled]
    for category in np.flatnonzero(counted_truth.any(axis=1)).tolist():
        members = np.flatnonzero(categories == category)  # [num_members], pooled order
        order = members[np.argsort(-scores[members], kind="stable")]  # [num_members]
        for limit_index, max_detections in enumerate(MAX_DETECTIONS):
            kept = order[ranks[order] < max_detections]  # [num_kept]
            kept_matched, kept_ignored = matched[..., kept], ignored[..., kept]  # [S, T, num_kept]
            true_positives = np.cumsum(kept_matched & ~kept_ignored, axis=-1, dtype=np.float64)
            false_positives = np.cumsum(~kept_matched & ~kept_ignored, axis=-1, dtype=np.float64)
            for subset in np.flatnonzero(counted_truth[category]).tolist():
                curve, final_recall = _precision_at_recalls(
                    true_positives[subset], false_positives[subset], int(counted_truth[category, subset])
                )
                precision[:, :, category, subset, limit_index] = curve
                recall[:, category, subset, limit_index] = final_recall
    return precision, recall

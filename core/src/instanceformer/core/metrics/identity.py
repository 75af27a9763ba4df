"""Identity metrics (IDF1, IDP, IDR) of the (video, category) sequences of one video.

The definition is trackeval's. Ground-truth and predicted tracks are matched one to one for the whole
sequence so as to maximise the identity true positives: the frames where both tracks of a matched pair
are present with a mask IoU of at least 0.5. Every other present ground truth is an identity false
negative, every other present prediction an identity false positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from instanceformer.core.metrics.category_blocks import CategoryBlocks

IDENTITY_THRESHOLD = 0.5


@dataclass(frozen=True)
class IdentityCounts:
    """Identity true positives, false negatives and false positives (detections), each ``[...]`` int64."""

    true_positives: np.ndarray
    false_negatives: np.ndarray
    false_positives: np.ndarray

    def total(self) -> IdentityCounts:
        """The sum over all axes (0-d counts)."""
        return IdentityCounts(
            self.true_positives.sum(), self.false_negatives.sum(), self.false_positives.sum()
        )


def _best_total(overlaps: np.ndarray) -> int:
    """The largest total of a one-to-one matching of the rows and columns of non-negative ``overlaps``
    (``[num_rows, num_columns]``)."""
    match_rows, match_columns = linear_sum_assignment(overlaps, maximize=True)
    return int(overlaps[match_rows, match_columns].sum())


def video_identity(
    similarity: np.ndarray, truth_present: np.ndarray, predicted_present: np.ndarray, blocks: CategoryBlocks
) -> IdentityCounts:
    """The identity counts of each category of one video, each ``[num_categories]``.

    ``similarity`` is the per-frame IoU ``[num_frames, num_truth, num_predicted]`` (0 where a track is
    absent and between categories), ``truth_present`` ``[num_frames, num_truth]`` and
    ``predicted_present`` ``[num_frames, num_predicted]`` bool; ``blocks`` gives the tracks' categories.
    When no track of a category overlaps more than one track of the other side, every overlap is
    matched; only the other categories need the Hungarian algorithm.
    """
    overlaps = (similarity >= IDENTITY_THRESHOLD).sum(axis=0)  # [num_truth, num_predicted]
    contested = blocks.contested((overlaps > 0)[None])[0]  # [num_categories]
    simple = ~contested[blocks.truth]  # [num_truth]
    true_positives = blocks.truth_totals(overlaps.sum(axis=1) * simple)  # [num_categories]
    for category in np.flatnonzero(contested).tolist():
        rows = np.flatnonzero(blocks.truth == category)
        columns = np.flatnonzero(blocks.predicted == category)
        true_positives[category] = _best_total(overlaps[np.ix_(rows, columns)])
    truth_detections = blocks.truth_totals(truth_present.sum(axis=0).astype(np.int64))
    predicted_detections = blocks.predicted_totals(predicted_present.sum(axis=0).astype(np.int64))
    return IdentityCounts(
        true_positives, truth_detections - true_positives, predicted_detections - true_positives
    )


def identity_scores(counts: IdentityCounts) -> dict[str, np.ndarray]:
    """``IDF1``, ``IDP`` and ``IDR`` (fractions, ``[...]``) from summed counts (0 without detections)."""
    true_positives = counts.true_positives.astype(np.float64)
    return {
        "IDF1": true_positives
        / np.maximum(1.0, true_positives + 0.5 * counts.false_positives + 0.5 * counts.false_negatives),
        "IDP": true_positives / np.maximum(1.0, true_positives + counts.false_positives),
        "IDR": true_positives / np.maximum(1.0, true_positives + counts.false_negatives),
    }

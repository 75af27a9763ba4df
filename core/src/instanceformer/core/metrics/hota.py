"""HOTA (higher order tracking accuracy) of the (video, category) sequences of one video.

The definition is trackeval's, per sequence. In each frame, the ground-truth and predicted tracks
present are matched by the Hungarian algorithm on ``alignment * IoU``, where the alignment of a pair of
tracks is a soft track IoU: the sum over frames of ``IoU / (sum of the row's IoUs + sum of the column's
IoUs - IoU)``, divided by ``frames(truth) + frames(prediction) - that sum``. At each localisation
threshold alpha in 0.05:0.05:0.95, a matched pair with IoU >= alpha is a true positive; every other
present ground truth is a false negative, every other present prediction a false positive. With
``n(g, p)`` the true positives of a pair of tracks, the association score of each of its true positives
is ``n / (frames(g) + frames(p) - n)`` (recall: ``n / frames(g)``, precision: ``n / frames(p)``).

When the positive IoUs of a category in a frame pair every track with at most one other, the best
matching is every positive pair; the Hungarian algorithm only runs on the (frame, category) blocks
where tracks compete.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.optimize import linear_sum_assignment

from instanceformer.core.metrics.category_blocks import CategoryBlocks

ALPHAS = np.arange(0.05, 0.99, 0.05)  # [num_alphas], trackeval's localisation thresholds
_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class HotaCounts:
    """The additive HOTA statistics of any set of sequences, each ``[..., num_alphas]`` float64.

    ``localisation`` is the sum of the IoUs of the true positives; ``association``,
    ``association_recall`` and ``association_precision`` the sums over true positives of their
    association scores.
    """

    true_positives: np.ndarray
    false_negatives: np.ndarray
    false_positives: np.ndarray
    localisation: np.ndarray
    association: np.ndarray
    association_recall: np.ndarray
    association_precision: np.ndarray

    @classmethod
    def zeros(cls, shape: tuple[int, ...] = ()) -> HotaCounts:
        """All-zero counts of shape ``shape + (num_alphas,)``."""
        return cls(*(np.zeros(shape + ALPHAS.shape) for _ in fields(cls)))

    def total(self) -> HotaCounts:
        """The sum over the leading axis."""
        return HotaCounts(*(getattr(self, field.name).sum(axis=0) for field in fields(self)))


def track_alignment(
    similarity: np.ndarray, truth_present: np.ndarray, predicted_present: np.ndarray
) -> np.ndarray:
    """The soft track IoU of every pair of tracks: ``[num_truth, num_predicted]`` float64.

    Arguments as in :func:`video_hota`. Pairs of tracks that never overlap get 0.
    """
    column_sums = similarity.sum(axis=1)  # [num_frames, num_predicted]
    row_sums = similarity.sum(axis=2)  # [num_frames, num_truth]
    denominator = column_sums[:, None, :] + row_sums[:, :, None] - similarity  # [F, num_truth, num_predicted]
    shares = np.divide(similarity, denominator, out=np.zeros_like(similarity), where=denominator > 0 + _EPS)
    potential = shares.sum(axis=0)  # [num_truth, num_predicted]
    frames = truth_present.sum(axis=0)[:, None] + predicted_present.sum(axis=0)[None, :] - potential
    return np.divide(potential, frames, out=np.zeros_like(potential), where=frames > 0)


def frame_matches(
    similarity: np.ndarray, truth_present: np.ndarray, predicted_present: np.ndarray, blocks: CategoryBlocks
) -> np.ndarray:
    """The pairs HOTA matches in each frame: ``[num_frames, num_truth, num_predicted]`` bool.

    Arguments as in :func:`video_hota`. Only pairs with a positive IoU are returned (a pair with IoU 0
    is never a true positive).
    """
    positive = similarity > 0  # [num_frames, num_truth, num_predicted]
    matched = positive.copy()
    contested = np.nonzero(blocks.contested(positive))  # ([num_contested], [num_contested])
    if contested[0].size:
        # [num_truth, num_predicted]
        alignment = track_alignment(similarity, truth_present, predicted_present)
        for frame, category in zip(*(index.tolist() for index in contested), strict=True):
            rows, columns = blocks.block(category, truth_present[frame], predicted_present[frame])
            block = np.ix_(rows, columns)
            match_rows, match_columns = linear_sum_assignment(-(alignment[block] * similarity[frame][block]))
            matched[frame][block] = False
            matched[frame, rows[match_rows], columns[match_columns]] = True
        matched &= positive
    return matched


def video_hota(
    similarity: np.ndarray, truth_present: np.ndarray, predicted_present: np.ndarray, blocks: CategoryBlocks
) -> HotaCounts:
    """The HOTA counts of each category of one video: ``[num_categories, num_alphas]``.

    ``similarity`` is the per-frame IoU ``[num_frames, num_truth, num_predicted]`` (0 where a track is
    absent and between categories), ``truth_present`` ``[num_frames, num_truth]`` and
    ``predicted_present`` ``[num_frames, num_predicted]`` bool; tracks are in file order (the order the
    Hungarian algorithm sees them in) and ``blocks`` gives their categories.
    """
    num_truth, num_predicted = similarity.shape[1:]
    num_alphas, num_categories = len(ALPHAS), blocks.num_categories
    truth_frames = truth_present.sum(axis=0)  # [num_truth]
    predicted_frames = predicted_present.sum(axis=0)  # [num_predicted]
    truth_detections = blocks.truth_totals(truth_frames.astype(np.float64))[:, None]  # [num_categories, 1]
    predicted_detections = blocks.predicted_totals(predicted_frames.astype(np.float64))[:, None]
    matched = frame_matches(similarity, truth_present, predicted_present, blocks)  # [F, num_truth, num_pred]
    _, truth_index, predicted_index = np.nonzero(matched)  # [num_matches] each
    matched_iou = similarity[matched]  # [num_matches], in the same order
    passes = matched_iou[None, :] >= ALPHAS[:, None] - _EPS  # [num_alphas, num_matches]
    # Per (category, alpha): true positives and the sum of their IoUs.
    slots = (blocks.truth[truth_index][None, :] * num_alphas + np.arange(num_alphas)[:, None])[passes]
    true_positives = np.bincount(slots, minlength=num_categories * num_alphas).reshape(
        num_categories, num_alphas
    )
    localisation = np.bincount(
        slots,
        weights=np.broadcast_to(matched_iou, passes.shape)[passes],
        minlength=num_categories * num_alphas,
    ).reshape(num_categories, num_alphas)
    # Per (alpha, pair of tracks): true positives.
    pair = truth_index * num_predicted + predicted_index  # [num_matches]
    pair_slots = (np.arange(num_alphas)[:, None] * (num_truth * num_predicted) + pair[None, :])[passes]
    pair_counts = np.bincount(pair_slots, minlength=num_alphas * num_truth * num_predicted).reshape(
        num_alphas, num_truth, num_predicted
    )  # [num_alphas, num_truth, num_predicted]
    truth_scale = truth_frames[None, :, None]  # [1, num_truth, 1]
    predicted_scale = predicted_frames[None, None, :]  # [1, 1, num_predicted]
    scores = {
        "association": pair_counts / np.maximum(1, truth_scale + predicted_scale - pair_counts),
        "association_recall": pair_counts / np.maximum(1, truth_scale),
        "association_precision": pair_counts / np.maximum(1, predicted_scale),
    }
    # [num_categories, num_alphas] each: the sums over true positives of their scores
    sums = {name: blocks.truth_totals((pair_counts * value).sum(axis=2)).T for name, value in scores.items()}
    true_positives = true_positives.astype(np.float64)
    return HotaCounts(
        true_positives=true_positives,
        false_negatives=truth_detections - true_positives,
        false_positives=predicted_detections - true_positives,
        localisation=localisation,
        **sums,
    )


def hota_scores(counts: HotaCounts) -> dict[str, np.ndarray]:
    """HOTA and its parts from summed counts, each ``[..., num_alphas]`` fractions.

    Keys: ``HOTA`` (``sqrt(DetA * AssA)``), ``DetA``, ``AssA``, ``DetRe``, ``DetPr``, ``AssRe``,
    ``AssPr``, ``LocA`` (mean IoU of the true positives, 1 without any).
    """
    true_positives = counts.true_positives
    detection = true_positives / np.maximum(
        1, true_positives + counts.false_negatives + counts.false_positives
    )
    association = counts.association / np.maximum(1, true_positives)
    return {
        "HOTA": np.sqrt(detection * association),
        "DetA": detection,
        "AssA": association,
        "DetRe": true_positives / np.maximum(1, true_positives + counts.false_negatives),
        "DetPr": true_positives / np.maximum(1, true_positives + counts.false_positives),
        "AssRe": counts.association_recall / np.maximum(1, true_positives),
        "AssPr": counts.association_precision / np.maximum(1, true_positives),
        "LocA": np.maximum(1e-10, counts.localisation) / np.maximum(1e-10, true_positives),
    }

"""CLEAR-MOT track continuity of the (video, category) sequences of one video: ID switches,
fragmentations, mostly tracked / partially tracked / mostly lost ground truth.

The definition is trackeval's, per sequence. Frames are visited in order; a frame with at least one
ground-truth and one predicted track of the category present is matched by the Hungarian algorithm over
the pairs with a mask IoU of at least 0.5, scored ``IoU + 1000`` for a pair matched in the previous such
frame (so continuing matches win) and ``IoU`` otherwise. A ground-truth track has an ID switch when it
is matched to another prediction than at its last match; a fragmentation each time its matching resumes
after an interruption (a matched visited frame following an unmatched one). It is mostly tracked when
matched in more than 80% of the frames it is present in, mostly lost when in less than 20%, partially
tracked otherwise.

When the candidate pairs of a category in a frame pair every track with at most one other, the best
matching is every candidate pair, whatever the previous frame; the Hungarian algorithm only runs on the
(frame, category) blocks where tracks compete, in frame order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from instanceformer.core.metrics.category_blocks import CategoryBlocks

CLEAR_THRESHOLD = 0.5
MOSTLY_TRACKED = 0.8
MOSTLY_LOST = 0.2
_CONTINUATION_BONUS = 1000.0
_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class TrackCoverage:
    """How each ground-truth track of a video was followed, each ``[num_truth]`` int64.

    ``frames``: frames the track is present in; ``tracked_frames``: of those, the frames it is matched
    in; ``id_switches``; ``fragmentations`` (separate matched stretches minus one, 0 when never matched).
    """

    frames: np.ndarray
    tracked_frames: np.ndarray
    id_switches: np.ndarray
    fragmentations: np.ndarray

    def _tracked_share(self) -> np.ndarray:
        """``[num_truth]`` float64: the fraction of its frames each track is matched in (0 if none)."""
        return np.divide(
            self.tracked_frames, self.frames, out=np.zeros(len(self.frames)), where=self.frames > 0
        )

    def mostly_tracked(self) -> np.ndarray:
        """``[num_truth]`` bool: present, and matched in more than 80% of its frames."""
        return (self.frames > 0) & (self._tracked_share() > MOSTLY_TRACKED)

    def mostly_lost(self) -> np.ndarray:
        """``[num_truth]`` bool: present, and matched in less than 20% of its frames."""
        return (self.frames > 0) & ~(self._tracked_share() >= MOSTLY_LOST)


@dataclass(frozen=True)
class ClearCounts:
    """ID switches, fragmentations and coverage classes of ground-truth tracks, each ``[...]`` int64."""

    id_switches: np.ndarray
    fragmentations: np.ndarray
    mostly_tracked: np.ndarray
    partially_tracked: np.ndarray
    mostly_lost: np.ndarray

    def total(self) -> ClearCounts:
        """The sum over all axes (0-d counts)."""
        return ClearCounts(
            self.id_switches.sum(),
            self.fragmentations.sum(),
            self.mostly_tracked.sum(),
            self.partially_tracked.sum(),
            self.mostly_lost.sum(),
        )


def clear_matches(
    similarity: np.ndarray, truth_present: np.ndarray, predicted_present: np.ndarray, blocks: CategoryBlocks
) -> np.ndarray:
    """The prediction each ground-truth track is matched to in each frame: ``[num_frames, num_truth]``
    int64 (index into the predicted tracks, -1 where unmatched).

    ``similarity`` is the per-frame IoU ``[num_frames, num_truth, num_predicted]`` (0 where a track is
    absent and between categories), ``truth_present`` ``[num_frames, num_truth]`` and
    ``predicted_present`` ``[num_frames, num_predicted]`` bool; tracks are in file order (the order the
    Hungarian algorithm sees them in) and ``blocks`` gives their categories.
    """
    candidates = similarity >= CLEAR_THRESHOLD - _EPS  # [num_frames, num_truth, num_predicted]
    matches = np.full(similarity.shape[:2], -1, dtype=np.int64)  # [num_frames, num_truth]
    frame_index, truth_index, predicted_index = np.nonzero(candidates)
    matches[frame_index, truth_index] = predicted_index
    previous_visit = blocks.previous_visit(blocks.visited(truth_present, predicted_present))  # [F, num_cat]
    # Row-major order: contested blocks in frame order, so each one sees its final previous frame.
    for frame, category in zip(
        *(index.tolist() for index in np.nonzero(blocks.contested(candidates))), strict=True
    ):
        rows, columns = blocks.block(category, truth_present[frame], predicted_present[frame])
        block = similarity[frame][np.ix_(rows, columns)]  # [num_rows, num_columns]
        previous = previous_visit[frame, category]
        partners = matches[previous, rows] if previous >= 0 else np.full(len(rows), -1)  # [num_rows]
        scores = _CONTINUATION_BONUS * (columns[None, :] == partners[:, None]) + block
        scores[block < CLEAR_THRESHOLD - _EPS] = 0.0
        match_rows, match_columns = linear_sum_assignment(-scores)
        kept = scores[match_rows, match_columns] > 0 + _EPS
        matches[frame, rows] = -1
        matches[frame, rows[match_rows[kept]]] = columns[match_columns[kept]]
    return matches


def track_coverage(
    matches: np.ndarray, truth_present: np.ndarray, predicted_present: np.ndarray, blocks: CategoryBlocks
) -> TrackCoverage:
    """How each ground-truth track was followed, from :func:`clear_matches` (arguments as there)."""
    num_truth = matches.shape[1]
    tracked = matches >= 0  # [num_frames, num_truth]
    track_index, frame_index = np.nonzero(tracked.T)  # [num_matched] each, by track then frame
    partners = matches[frame_index, track_index]  # [num_matched]
    switched = (partners[1:] != partners[:-1]) & (track_index[1:] == track_index[:-1])
    # Whether each track was matched in the previous frame visited for its category.
    previous = blocks.previous_visit(blocks.visited(truth_present, predicted_present))[:, blocks.truth]
    previously = tracked[np.maximum(previous, 0), np.arange(num_truth)[None, :]] & (previous >= 0)
    starts = tracked & ~previously  # [num_frames, num_truth]
    return TrackCoverage(
        frames=truth_present.sum(axis=0).astype(np.int64),
        tracked_frames=tracked.sum(axis=0).astype(np.int64),
        id_switches=np.bincount(track_index[1:][switched], minlength=num_truth).astype(np.int64),
        fragmentations=np.maximum(starts.sum(axis=0) - 1, 0).astype(np.int64),
    )


def clear_counts(coverage: TrackCoverage, blocks: CategoryBlocks) -> ClearCounts:
    """The totals per category of one video's :class:`TrackCoverage`, each ``[num_categories]``."""
    mostly_tracked = coverage.mostly_tracked()
    mostly_lost = coverage.mostly_lost()
    partially_tracked = (coverage.frames > 0) & ~mostly_tracked & ~mostly_lost
    return ClearCounts(
        *(
            blocks.truth_totals(np.asarray(values, dtype=np.int64))
            for values in (
                coverage.id_switches,
                coverage.fragmentations,
                mostly_tracked,
                partially_tracked,
                mostly_lost,
            )
        )
    )

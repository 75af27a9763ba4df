"""The (video, category) sequences of one video, held as category blocks of whole-video arrays.

The association metrics evaluate every category of a video on its own, as trackeval does. They work
on arrays over all tracks of the video at once (``[num_frames, num_truth, num_predicted]`` similarities
that are 0 between tracks of different categories), and use this class to sum per category, to find
the frames and categories where the tracks of a category compete, and to cut out one category's block
of a frame, rows and columns in file order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CategoryBlocks:
    """The category of every track of one video as an index ``0 .. num_categories - 1``.

    ``truth`` is ``[num_truth]`` and ``predicted`` ``[num_predicted]`` int64.
    """

    truth: np.ndarray
    predicted: np.ndarray
    num_categories: int

    def _truth_members(self) -> np.ndarray:
        """``[num_truth, num_categories]`` int64, 1 where the track belongs to the category."""
        return (self.truth[:, None] == np.arange(self.num_categories)[None, :]).astype(np.int64)

    def _predicted_members(self) -> np.ndarray:
        """``[num_predicted, num_categories]`` int64, 1 where the track belongs to the category."""
        return (self.predicted[:, None] == np.arange(self.num_categories)[None, :]).astype(np.int64)

    def truth_totals(self, values: np.ndarray) -> np.ndarray:
        """Sums per category of per-truth-track values: ``[..., num_truth]`` -> ``[..., num_categories]``."""
        return values @ self._truth_members().astype(values.dtype)

    def predicted_totals(self, values: np.ndarray) -> np.ndarray:
        """Sums per category of per-prediction values: ``[..., num_predicted]`` ->
        ``[..., num_categories]``."""
        return values @ self._predicted_members().astype(values.dtype)

    def visited(self, truth_present: np.ndarray, predicted_present: np.ndarray) -> np.ndarray:
        """``[num_frames, num_categories]`` bool: frames where the category has at least one ground-truth
        and one predicted track present (``truth_present`` ``[num_frames, num_truth]``,
        ``predicted_present`` ``[num_frames, num_predicted]`` bool)."""
        truth_any = self.truth_totals(truth_present.astype(np.int64)) > 0
        predicted_any = self.predicted_totals(predicted_present.astype(np.int64)) > 0
        return truth_any & predicted_any

    def contested(self, candidates: np.ndarray) -> np.ndarray:
        """``[num_frames, num_categories]`` bool: where a track of the category has more than one
        candidate partner, from ``[num_frames, num_truth, num_predicted]`` bool ``candidates``."""
        truth_multiple = (candidates.sum(axis=2) > 1).astype(np.int64)  # [num_frames, num_truth]
        predicted_multiple = (candidates.sum(axis=1) > 1).astype(np.int64)  # [num_frames, num_predicted]
        return (self.truth_totals(truth_multiple) > 0) | (self.predicted_totals(predicted_multiple) > 0)

    def block(self, category: int, truth_flags: np.ndarray, predicted_flags: np.ndarray) -> tuple:
        """The rows and columns (index arrays, file order) of ``category`` among the flagged tracks
        (``truth_flags`` ``[num_truth]``, ``predicted_flags`` ``[num_predicted]`` bool)."""
        rows = np.flatnonzero(truth_flags & (self.truth == category))
        columns = np.flatnonzero(predicted_flags & (self.predicted == category))
        return rows, columns

    def previous_visit(self, visited: np.ndarray) -> np.ndarray:
        """For every frame and category, the last earlier visited frame (-1 if none): ``[num_frames,
        num_categories]`` int64 from :meth:`visited`'s array."""
        num_frames = visited.shape[0]
        frames = np.where(visited, np.arange(num_frames)[:, None], -1)  # [num_frames, num_categories]
        latest = np.maximum.accumulate(frames, axis=0)  # last visited frame up to and including each
        before = np.full((1, self.num_categories), -1, dtype=np.int64)
        return np.concatenate([before, latest])[:num_frames]

"""Per-frame mask IoU between the ground-truth and predicted tracks of one video.

This is the similarity the association metrics (HOTA, identity, CLEAR) work on. A track is present in a
frame when it has a mask entry there (a non-null segmentation); an empty mask is present and has IoU 0
with every mask. The IoU of two masks is pycocotools' ``iou`` (intersection over union of integer pixel
counts, divided in float64), one call per frame over the present masks of the tracks that can pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress

import numpy as np
from pycocotools import mask as coco_mask

from instanceformer.core.metrics.video_tracks import RleDict


def presence(masks: Sequence[Sequence[RleDict | None]], num_frames: int) -> np.ndarray:
    """Which tracks have a mask entry in which frame: ``[num_tracks, num_frames]`` bool."""
    flags = [mask is not None for row in masks for mask in row]
    return np.array(flags, dtype=bool).reshape(len(masks), num_frames)


def frame_ious(
    truth_masks: Sequence[Sequence[RleDict | None]],
    truth_present: np.ndarray,
    predicted_masks: Sequence[Sequence[RleDict | None]],
    predicted_present: np.ndarray,
    pairs: np.ndarray,
) -> np.ndarray:
    """Mask IoU of every pair of tracks in every frame: ``[num_frames, num_truth, num_predicted]`` float64.

    ``truth_present`` is ``[num_truth, num_frames]`` and ``predicted_present`` ``[num_predicted,
    num_frames]`` bool (see :func:`presence`); ``pairs`` ``[num_truth, num_predicted]`` bool selects the
    pairs computed (tracks of the same category). Entries are 0 outside ``pairs`` and where either
    track is absent.
    """
    num_truth, num_frames = truth_present.shape
    num_predicted = predicted_present.shape[0]
    ious = np.zeros((num_frames, num_truth, num_predicted), dtype=np.float64)
    rows, columns = np.flatnonzero(pairs.any(axis=1)), np.flatnonzero(pairs.any(axis=0))
    if not rows.size:
        return ious
    truth_in_frame = truth_present[rows].T  # [num_frames, num_rows]
    predicted_in_frame = predicted_present[columns].T  # [num_frames, num_columns]
    frames = np.flatnonzero(truth_in_frame.any(axis=1) & predicted_in_frame.any(axis=1))  # [num_used]
    if not frames.size:
        return ious
    # Masks by frame: [num_frames] tuples of one entry per row / column.
    truth_by_frame = list(zip(*(truth_masks[row] for row in rows.tolist()), strict=True))
    predicted_by_frame = list(zip(*(predicted_masks[column] for column in columns.tolist()), strict=True))
    values = [
        # [num_truth_in_frame, num_predicted_in_frame], row-major
        coco_mask.iou(
            list(compress(truth_by_frame[frame], truth_flags)),
            list(compress(predicted_by_frame[frame], predicted_flags)),
            [0] * sum(predicted_flags),
        ).ravel()
        for frame, truth_flags, predicted_flags in zip(
            frames.tolist(), truth_in_frame[frames].tolist(), predicted_in_frame[frames].tolist(), strict=True
        )
    ]
    # The (frame, row, column) of every value above, in the same order.
    used, pair_row, pair_column = np.nonzero(
        truth_in_frame[frames][:, :, None] & predicted_in_frame[frames][:, None, :]
    )
    ious[frames[used], rows[pair_row], columns[pair_column]] = np.concatenate(values)
    ious[:, ~pairs] = 0.0
    return ious

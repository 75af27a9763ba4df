"""Track IoU of every pair of predicted and ground-truth tracks of one video.

The IoU of two tracks is the sum over frames of the mask intersections divided by the sum over frames
of the mask unions; a frame where only one track has a mask adds that mask's area to the union, a frame
where neither has one adds nothing. Because a missing mask has area 0, the sum of unions is
``total_area(prediction) + total_area(truth) - total_intersection``, so only the intersections need
computing per frame.

Per frame, one pycocotools call gives all pairwise intersections of the masks present: ``iou`` with
every ground-truth mask marked as crowd returns ``intersection / area(prediction)``; multiplying back by
the prediction's area and rounding recovers the integer intersection exactly (both are below 2^32, far
inside float64's exact range). pycocotools skips pairs whose bounding boxes do not overlap. The loop over
frames only gathers masks and calls pycocotools; the pairs behind the returned matrices and their sums
over frames are worked out for the whole video at once.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask

from instanceformer.core.metrics.video_tracks import VideoTracks


def track_iou_upper_bounds(predicted: VideoTracks, truth: VideoTracks, pairs: np.ndarray) -> np.ndarray:
    """An upper bound of the track IoU of each pair, from the per-frame areas alone (no mask is read).

    A frame's intersection is at most the smaller of the two areas, so with ``S`` the sum over frames
    of those minima, ``IoU <= S / (total_area(prediction) + total_area(truth) - S)``. ``pairs`` is
    ``[num_predicted, num_truth]`` bool; returns ``[num_predicted, num_truth]`` float64, 0 outside
    ``pairs``. The bound is computed as the IoU itself is (float64 division), so a pair whose bound is
    below a threshold has an IoU below it too.
    """
    bounds = np.zeros(pairs.shape, dtype=np.float64)
    pair_rows, pair_columns = np.nonzero(pairs)  # [num_pairs] each
    shared = np.minimum(predicted.frame_areas[pair_rows], truth.frame_areas[pair_columns]).sum(axis=1)
    unions = (
        predicted.frame_areas[pair_rows].sum(axis=1) + truth.frame_areas[pair_columns].sum(axis=1) - shared
    )
    bounds[pair_rows, pair_columns] = np.divide(
        shared, unions, out=np.zeros(len(shared), dtype=np.float64), where=unions > 0
    )
    return bounds


def track_intersections(
    predicted: VideoTracks,
    truth: VideoTracks,
    predicted_rows: np.ndarray | None = None,
    truth_columns: np.ndarray | None = None,
    *,
    pairs: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels shared by each pair of tracks over all frames: ``[num_predicted, num_truth]`` int64.

    ``predicted_rows`` / ``truth_columns`` (index arrays) and ``pairs`` (``[num_predicted, num_truth]``
    bool) restrict the pairs computed; the other entries stay 0. A frame is only read where both tracks
    of some computed pair have a mask.
    """
    intersections = np.zeros((predicted.num_tracks, truth.num_tracks), dtype=np.int64)
    allowed_rows = np.arange(predicted.num_tracks) if predicted_rows is None else np.asarray(predicted_rows)
    allowed_columns = np.arange(truth.num_tracks) if truth_columns is None else np.asarray(truth_columns)
    selected = np.zeros(intersections.shape, dtype=bool)  # [num_predicted, num_truth]
    selected[np.ix_(allowed_rows.astype(np.int64), allowed_columns.astype(np.int64))] = True
    if pairs is not None:
        selected &= pairs
    rows, columns = np.flatnonzero(selected.any(axis=1)), np.flatnonzero(selected.any(axis=0))
    if not rows.size:
        return intersections
    block_pairs = selected[np.ix_(rows, columns)]  # [num_rows, num_columns]
    predicted_present = predicted.frame_areas[rows] > 0  # [num_rows, num_frames]
    truth_present = truth.frame_areas[columns] > 0  # [num_columns, num_frames]
    # Masks are only needed in frames where a paired track of the other side has one too.
    pair_counts = block_pairs.astype(np.int64)  # [num_rows, num_columns]
    predicted_needed = predicted_present & (pair_counts @ truth_present > 0)  # [num_rows, num_frames]
    truth_needed = truth_present & (pair_counts.T @ predicted_present > 0)  # [num_columns, num_frames]
    frames = np.flatnonzero(predicted_needed.any(axis=0))  # [num_used]
    if not frames.size:
        return intersections
    predicted_in_frame = predicted_needed[:, frames].T  # [num_used, num_rows]
    truth_in_frame = truth_needed[:, frames].T  # [num_used, num_columns]
    predicted_masks = [predicted.masks[row] for row in rows.tolist()]
    truth_masks = [truth.masks[column] for column in columns.tolist()]
    covered = []
    for frame, predicted_flags, truth_flags in zip(
        frames.tolist(), predicted_in_frame.tolist(), truth_in_frame.tolist(), strict=True
    ):
        frame_predicted = [
            masks[frame] for masks, flag in zip(predicted_masks, predicted_flags, strict=True) if flag
        ]
        frame_truth = [masks[frame] for masks, flag in zip(truth_masks, truth_flags, strict=True) if flag]
        # [num_predicted_in_frame, num_truth_in_frame]: intersection / area(prediction), row-major
        covered.append(coco_mask.iou(frame_predicted, frame_truth, [1] * len(frame_truth)).ravel())
    # The (frame, row, column) of every value above, in the same order.
    used_frame, pair_row, pair_column = np.nonzero(
        predicted_in_frame[:, :, None] & truth_in_frame[:, None, :]
    )
    pixels = np.rint(np.concatenate(covered) * predicted.frame_areas[rows[pair_row], frames[used_frame]])
    totals = np.bincount(
        pair_row * len(columns) + pair_column, weights=pixels, minlength=len(rows) * len(columns)
    )  # [num_rows * num_columns], exact integers in float64
    intersections[np.ix_(rows, columns)] = totals.reshape(block_pairs.shape).astype(np.int64) * block_pairs
    return intersections


def track_iou_matrix(
    predicted: VideoTracks,
    truth: VideoTracks,
    predicted_rows: np.ndarray | None = None,
    truth_columns: np.ndarray | None = None,
    *,
    pairs: np.ndarray | None = None,
) -> np.ndarray:
    """Track IoU of each pair: ``[num_predicted, num_truth]`` float64 in ``[0, 1]`` (0 for an empty union).

    The optional index arrays and ``pairs`` restrict the pairs computed, as in
    :func:`track_intersections`; the other entries are 0.
    """
    intersections = track_intersections(predicted, truth, predicted_rows, truth_columns, pairs=pairs)
    unions = (
        predicted.frame_areas.sum(axis=1)[:, None] + truth.frame_areas.sum(axis=1)[None, :] - intersections
    )  # [num_predicted, num_truth]
    return np.divide(
        intersections, unions, out=np.zeros(intersections.shape, dtype=np.float64), where=unions > 0
    )

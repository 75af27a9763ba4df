"""Track IoU of every pair of predicted and ground-truth tracks of one video.

The IoU of two tracks is the sum over frames of the mask intersections divided by the sum over frames
of the mask unions; a frame where only one track has a mask adds that mask's area to the union, a frame
where neither has one adds nothing. Because a missing mask has area 0, the sum of unions is
``total_area(prediction) + total_area(truth) - total_intersection``, so only the intersections need
computing per frame.

Per frame, one pycocotools call gives all pairwise intersections of the masks present: ``iou`` with
every ground-truth mask marked as crowd returns ``intersection / area(prediction)``; multiplying back by
the prediction's area and rounding recovers the integer intersection exactly (both are below 2^32, far
inside float64's exact range). pycocotools skips pairs whose bounding boxes do not overlap.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask

from instanceformer.core.metrics.video_tracks import VideoTracks


def track_intersections(
    predicted: VideoTracks,
    truth: VideoTracks,
    predicted_rows: np.ndarray | None = None,
    truth_columns: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels shared by each pair of tracks over all frames: ``[num_predicted, num_truth]`` int64.

    ``predicted_rows`` / ``truth_columns`` (index arrays) restrict the pairs computed; the other entries
    stay 0 (the evaluator skips tracks whose category has no counterpart in the video).
    """
    intersections = np.zeros((predicted.num_tracks, truth.num_tracks), dtype=np.int64)
    rows = np.arange(predicted.num_tracks) if predicted_rows is None else np.asarray(predicted_rows)
    columns = np.arange(truth.num_tracks) if truth_columns is None else np.asarray(truth_columns)
    if not rows.size or not columns.size:
        return intersections
    predicted_nonempty = predicted.frame_areas[rows] > 0  # [num_rows, num_frames]
    truth_nonempty = truth.frame_areas[columns] > 0  # [num_columns, num_frames]
    frames = np.flatnonzero(predicted_nonempty.any(axis=0) & truth_nonempty.any(axis=0))
    for frame in frames:
        frame_rows = rows[predicted_nonempty[:, frame]]  # [num_predicted_in_frame]
        frame_columns = columns[truth_nonempty[:, frame]]  # [num_truth_in_frame]
        if not frame_rows.size or not frame_columns.size:
            continue
        predicted_masks = [predicted.masks[row][frame] for row in frame_rows]
        truth_masks = [truth.masks[column][frame] for column in frame_columns]
        # [num_predicted_in_frame, num_truth_in_frame]: intersection / area(prediction)
        covered = coco_mask.iou(predicted_masks, truth_masks, [1] * len(truth_masks))
        pixels = np.rint(covered * predicted.frame_areas[frame_rows, frame][:, None]).astype(np.int64)
        intersections[frame_rows[:, None], frame_columns[None, :]] += pixels
    return intersections


def track_iou_matrix(
    predicted: VideoTracks,
    truth: VideoTracks,
    predicted_rows: np.ndarray | None = None,
    truth_columns: np.ndarray | None = None,
) -> np.ndarray:
    """Track IoU of each pair: ``[num_predicted, num_truth]`` float64 in ``[0, 1]`` (0 for an empty union).

    The optional index arrays restrict the pairs computed, as in :func:`track_intersections`.
    """
    intersections = track_intersections(predicted, truth, predicted_rows, truth_columns)
    unions = (
        predicted.frame_areas.sum(axis=1)[:, None] + truth.frame_areas.sum(axis=1)[None, :] - intersections
    )  # [num_predicted, num_truth]
    return np.divide(
        intersections, unions, out=np.zeros(intersections.shape, dtype=np.float64), where=unions > 0
    )

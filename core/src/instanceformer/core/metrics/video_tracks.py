"""The tracks of one video, ground truth or predicted, in the form the evaluator computes on.

Masks become pycocotools RLE dicts (one per frame, ``None`` where the track is absent): compressed
strings pass through, uncompressed RLE is compressed in one pycocotools call per video, polygons are
rasterised and merged as pycocotools does. Per-frame areas come from the masks. The area that places a
track in an area range is the mean of its non-zero per-frame areas, as the official evaluation computes
it: for ground truth from the file's ``areas`` (a frame whose ``areas`` entry is null but which has a
mask counts with its mask area), for predictions from the masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, compress, pairwise, repeat
from operator import is_not
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from instanceformer.core.formats import Track, TrackResult, Video
from instanceformer.core.formats.rle import concatenate_uncompressed_counts
from instanceformer.core.metrics.parameters import occlusion_score

RleDict = dict[str, Any]
# pycocotools 2.0.11 with numpy 2 fails in ``area`` on a list of 256 or more masks (its size argument
# overflows a uint8); areas are computed in batches below that.
_AREA_BATCH = 255


@dataclass(frozen=True)
class VideoTracks:
    """Tracks of one video on one side of the evaluation.

    ``masks[track][frame]`` is a pycocotools RLE dict or ``None``; ``frame_areas`` is
    ``[num_tracks, num_frames]`` int64 pixels (0 where absent); ``mean_areas`` ``[num_tracks]`` float64
    pixels (0 for a track without any non-empty frame); ``category_ids`` ``[num_tracks]`` int64.
    """

    masks: tuple[tuple[RleDict | None, ...], ...]
    frame_areas: np.ndarray
    mean_areas: np.ndarray
    category_ids: np.ndarray

    @property
    def num_tracks(self) -> int:
        """Number of tracks."""
        return len(self.masks)


@dataclass(frozen=True)
class TruthTracks(VideoTracks):
    """Ground-truth tracks: adds ``crowd`` ``[num_tracks]`` bool and ``occlusion_scores`` ``[num_tracks]``
    float64 (NaN where the track has no occlusion labels)."""

    crowd: np.ndarray
    occlusion_scores: np.ndarray


@dataclass(frozen=True)
class PredictedTracks(VideoTracks):
    """Predicted tracks: adds ``scores`` ``[num_tracks]`` float64 confidences."""

    scores: np.ndarray


def _frame_areas(masks: Sequence[Sequence[RleDict | None]], num_frames: int) -> np.ndarray:
    """Foreground pixels of every mask: ``[num_tracks, num_frames]`` int64 (0 where absent).

    Every track has ``num_frames`` entries; pycocotools computes the areas in a few batched calls.
    """
    areas = np.zeros((len(masks), num_frames), dtype=np.int64)  # [num_tracks, num_frames]
    entries = list(chain.from_iterable(masks))  # [num_tracks * num_frames], track-major
    present = list(map(is_not, entries, repeat(None)))
    flat = list(compress(entries, present))
    if flat:
        areas[np.array(present, dtype=bool).reshape(areas.shape)] = np.concatenate(
            [coco_mask.area(flat[start : start + _AREA_BATCH]) for start in range(0, len(flat), _AREA_BATCH)]
        )
    return areas


def _mean_nonzero(areas: np.ndarray) -> np.ndarray:
    """Mean of the positive entries of each row of ``[num_tracks, num_frames]`` areas (0 for none)."""
    positive = areas > 0  # [num_tracks, num_frames]
    counts = positive.sum(axis=1)  # [num_tracks]
    totals = np.where(positive, areas, 0).sum(axis=1)  # [num_tracks]
    return np.divide(totals, counts, out=np.zeros(len(areas), dtype=np.float64), where=counts > 0)


def _polygon_rle(polygons: list[list[float]], height: int, width: int) -> RleDict | None:
    """A polygon segmentation as one RLE (``None`` for an empty polygon list, which marks absence)."""
    if not polygons:
        return None
    return coco_mask.merge(coco_mask.frPyObjects(polygons, height, width))


def _truth_masks(tracks: Sequence[Track], height: int, width: int) -> list[list[RleDict | None]]:
    """Per track and frame, the ground-truth segmentation as a pycocotools RLE dict or ``None``."""
    masks: list[list[RleDict | None]] = []
    uncompressed: list[list[int]] = []
    uncompressed_positions: list[tuple[int, int]] = []
    for track_index, track in enumerate(tracks):
        row: list[RleDict | None] = []
        for frame, segmentation in enumerate(track.segmentations):
            if segmentation is None:
                row.append(None)
            elif isinstance(segmentation, list):
                row.append(_polygon_rle(segmentation, height, width))
            elif isinstance(segmentation["counts"], list):
                row.append(None)
                uncompressed.append(segmentation["counts"])
                uncompressed_positions.append((track_index, frame))
            else:
                row.append({"size": [height, width], "counts": segmentation["counts"]})
        masks.append(row)
    if uncompressed:
        # pycocotools converts each counts list to uint64 itself; handing it views of one array is faster.
        runs, offsets = concatenate_uncompressed_counts(uncompressed)  # [total_runs], [num_masks + 1]
        objects = [
            {"size": [height, width], "counts": runs[start:end]} for start, end in pairwise(offsets.tolist())
        ]
        for (track_index, frame), rle in zip(
            uncompressed_positions, coco_mask.frPyObjects(objects, height, width), strict=True
        ):
            masks[track_index][frame] = rle
    return masks


def truth_tracks(tracks: Sequence[Track], video: Video) -> TruthTracks:
    """Prepare the ground-truth tracks of ``video`` (validated tracks, any mask encoding)."""
    masks = _truth_masks(tracks, video.height, video.width)
    frame_areas = _frame_areas(masks, video.length)  # [num_tracks, num_frames]
    # The file's areas (null read as NaN), and the mask area where the file gives none.
    file_areas = np.array([track.areas for track in tracks], dtype=np.float64).reshape(
        len(tracks), video.length
    )
    ranging = np.where(np.isnan(file_areas), frame_areas, file_areas)  # [num_tracks, num_frames]
    return TruthTracks(
        masks=tuple(tuple(row) for row in masks),
        frame_areas=frame_areas,
        mean_areas=_mean_nonzero(ranging),
        category_ids=np.array([track.category_id for track in tracks], dtype=np.int64),
        crowd=np.array([bool(track.iscrowd) for track in tracks], dtype=bool),
        occlusion_scores=np.array([occlusion_score(track.occlusion) for track in tracks], dtype=np.float64),
    )


def predicted_tracks(results: Sequence[TrackResult], video: Video) -> PredictedTracks:
    """Prepare predicted tracks of ``video`` (checked results: compressed RLE of the video's size)."""
    # Checked results already hold dicts pycocotools reads (``size`` and compressed ``counts``).
    masks = tuple(result.segmentations for result in results)
    frame_areas = _frame_areas(masks, video.length)  # [num_tracks, num_frames]
    return PredictedTracks(
        masks=masks,
        frame_areas=frame_areas,
        mean_areas=_mean_nonzero(frame_areas.astype(np.float64)),
        category_ids=np.array([result.category_id for result in results], dtype=np.int64),
        scores=np.array([float(result.score) for result in results], dtype=np.float64),
    )

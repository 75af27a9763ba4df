"""Consistency checks of a whole annotation file: ids, references, per-frame counts and masks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np

from instanceformer.core.errors import FormatError
from instanceformer.core.formats.fields import is_finite_number, only_types, short_repr
from instanceformer.core.formats.rle import concatenate_uncompressed_counts, validate_segmentation
from instanceformer.core.formats.video_dataset import OCCLUSION_LABELS, Track, Video, VideoDataset

_OCCLUSION_VALUES = {None, *OCCLUSION_LABELS}


def _check_unique_ids(source: str, collection: str, ids: Iterable[int]) -> None:
    """Raise FormatError at the first record whose id repeats an earlier one."""
    first_index: dict[int, int] = {}
    for index, record_id in enumerate(ids):
        if record_id in first_index:
            raise FormatError(
                source,
                f"{collection}[{index}] (id {record_id})",
                "id",
                f"expected a unique id, {collection}[{first_index[record_id]}] has the same id",
            )
        first_index[record_id] = index


def _check_frame_count(source: str, record: str, field: str, values: Sequence[Any], video: Video) -> None:
    """Check that a per-frame list has one entry per frame of ``video``."""
    if len(values) != video.length:
        raise FormatError(
            source,
            record,
            field,
            f"expected {video.length} entries (the length of video {video.id}), got {len(values)}",
        )


def _check_segmentations(source: str, record: str, track: Track, video: Video) -> None:
    """Check every non-null segmentation of ``track`` against the video's frame size."""
    for frame, segmentation in enumerate(track.segmentations):
        if segmentation is None:
            continue
        try:
            validate_segmentation(segmentation, video.height, video.width)
        except ValueError as problem:
            raise FormatError(source, record, f"segmentations[{frame}]", str(problem)) from None


def _check_areas_and_boxes(source: str, record: str, track: Track) -> None:
    """Check per-frame areas (non-negative numbers or null) and boxes (4 numbers or null)."""
    for frame, area in enumerate(track.areas):
        if area is not None and (not is_finite_number(area) or area < 0):
            raise FormatError(
                source,
                record,
                f"areas[{frame}]",
                f"expected a non-negative number or null, got {short_repr(area)}",
            )
    for frame, box in enumerate(track.bboxes):
        if box is None:
            continue
        if not isinstance(box, list | tuple) or len(box) != 4 or not all(is_finite_number(v) for v in box):
            raise FormatError(
                source,
                record,
                f"bboxes[{frame}]",
                f"expected [x, y, w, h] as four finite numbers or null, got {short_repr(box)}",
            )


def _check_occlusion(source: str, record: str, track: Track, video: Video) -> None:
    """Check OVIS occlusion labels: one per frame, each a known label or null."""
    if track.occlusion is None:
        return
    _check_frame_count(source, record, "occlusion", track.occlusion, video)
    for frame, label in enumerate(track.occlusion):
        if label is not None and label not in OCCLUSION_LABELS:
            raise FormatError(
                source,
                record,
                f"occlusion[{frame}]",
                f"expected one of {', '.join(OCCLUSION_LABELS)} or null, got {short_repr(label)}",
            )


def _check_track(
    source: str, index: int, track: Track, dataset: VideoDataset, category_ids: set[int]
) -> None:
    """Check one track against its video and the category list."""
    record = f"annotations[{index}] (id {track.id})"
    if not dataset.has_video(track.video_id):
        raise FormatError(
            source, record, "video_id", f"expected the id of a video in the file, got {track.video_id}"
        )
    if track.category_id not in category_ids:
        raise FormatError(
            source,
            record,
            "category_id",
            f"expected the id of a category in the file, got {track.category_id}",
        )
    if track.iscrowd not in (0, 1):
        raise FormatError(source, record, "iscrowd", f"expected 0 or 1, got {track.iscrowd}")
    video = dataset.video(track.video_id)
    for field in ("segmentations", "areas", "bboxes"):
        _check_frame_count(source, record, field, getattr(track, field), video)
    _check_segmentations(source, record, track, video)
    _check_areas_and_boxes(source, record, track)
    _check_occlusion(source, record, track, video)


def _finite_numbers(values: list[Any]) -> bool:
    """True when every value is an ``int`` or a finite ``float`` (False for an int beyond a double)."""
    if not only_types(values, int, float):
        return False
    try:
        return all(map(math.isfinite, values))
    except OverflowError:
        return False


def _uncompressed_counts_look_valid(counts: list[list[Any]], frames: list[int]) -> bool:
    """Whether uncompressed RLE counts pass :func:`validate_segmentation`, checked in whole-file passes.

    ``counts[i]`` is the counts list of one RLE of a frame of ``frames[i]`` pixels (height x width).
    """
    if not counts:
        return True
    try:
        runs, offsets = concatenate_uncompressed_counts(counts)  # [total_runs], [num_masks + 1]
    except ValueError:
        return False
    pixels = np.asarray(frames, dtype=np.int64)  # [num_masks]
    lengths = np.diff(offsets)  # [num_masks]
    # Runs no longer than the largest frame cannot overflow the sums below.
    if not lengths.all() or int(runs.max()) > int(pixels.max()):
        return False
    if not np.array_equal(np.add.reduceat(runs, offsets[:-1]).astype(np.int64), pixels):
        return False
    # A list of booleans alone is refused (not integers); it can only sum to the frame with a run per pixel.
    return bool((lengths < pixels).all())


def _segmentations_look_valid(tracks: Sequence[Track], dataset: VideoDataset) -> bool:
    """Whether every segmentation passes :func:`validate_segmentation` (uncompressed RLE in bulk)."""
    counts: list[list[Any]] = []
    sizes: list[Any] = []
    expected_sizes: list[list[int]] = []
    frames: list[int] = []
    for track in tracks:
        video = dataset.video(track.video_id)
        size = [video.height, video.width]
        for segmentation in track.segmentations:
            if segmentation is None:
                continue
            if type(segmentation) is dict and type(segmentation.get("counts")) is list:
                counts.append(segmentation["counts"])
                sizes.append(segmentation.get("size"))
                expected_sizes.append(size)
                frames.append(video.height * video.width)
                continue
            try:
                validate_segmentation(segmentation, video.height, video.width)
            except ValueError:
                return False
    if not only_types(sizes, list) or sizes != expected_sizes:
        return False
    return only_types(chain.from_iterable(sizes), int) and _uncompressed_counts_look_valid(counts, frames)


def _per_frame_values_look_valid(tracks: Sequence[Track]) -> bool:
    """Whether every area and box passes :func:`_check_areas_and_boxes`, checked in whole-list passes."""
    areas = [area for area in chain.from_iterable(track.areas for track in tracks) if area is not None]
    if not _finite_numbers(areas) or (areas and min(areas) < 0):
        return False
    boxes = [box for box in chain.from_iterable(track.bboxes for track in tracks) if box is not None]
    if not only_types(boxes, list, tuple) or set(map(len, boxes)) - {4}:
        return False
    return _finite_numbers(list(chain.from_iterable(boxes)))


def _track_fields_look_valid(tracks: Sequence[Track], dataset: VideoDataset, category_ids: set[int]) -> bool:
    """Whether every track passes the per-track checks of :func:`_check_track` other than the values."""
    for track in tracks:
        if not dataset.has_video(track.video_id) or track.category_id not in category_ids:
            return False
        if track.iscrowd not in (0, 1):
            return False
        length = dataset.video(track.video_id).length
        if not len(track.segmentations) == len(track.areas) == len(track.bboxes) == length:
            return False
        if track.occlusion is not None:
            if len(track.occlusion) != length:
                return False
            try:
                if not set(track.occlusion) <= _OCCLUSION_VALUES:
                    return False
            except TypeError:
                return False
    return True


def _tracks_look_valid(dataset: VideoDataset, category_ids: set[int]) -> bool:
    """Whether every track passes :func:`_check_track`, in a few passes over the whole file.

    Accepts exactly what the track-by-track checks accept; when it says no, those checks run and name
    the first problem.
    """
    tracks = dataset.annotations or ()
    return (
        _track_fields_look_valid(tracks, dataset, category_ids)
        and _per_frame_values_look_valid(tracks)
        and _segmentations_look_valid(tracks, dataset)
    )


def validate_dataset(dataset: VideoDataset, source: str = "<dataset>") -> None:
    """Check the consistency of a dataset; raise FormatError at the first problem.

    Checked: unique video, track and category ids; ``file_names`` count equal to ``length``; every
    track's video and category exist; ``iscrowd`` is 0 or 1; segmentations, areas, boxes and occlusion
    labels have one entry per frame; every segmentation is well formed and has the video's size; areas
    and boxes are numbers; occlusion labels are known. ``source`` names the file in messages.
    """
    _check_unique_ids(source, "categories", (category.id for category in dataset.categories))
    _check_unique_ids(source, "videos", (video.id for video in dataset.videos))
    for index, video in enumerate(dataset.videos):
        if len(video.file_names) != video.length:
            raise FormatError(
                source,
                f"videos[{index}] (id {video.id})",
                "file_names",
                f"expected {video.length} entries (the video's length), got {len(video.file_names)}",
            )
    if dataset.annotations is None:
        return
    _check_unique_ids(source, "annotations", (track.id for track in dataset.annotations))
    category_ids = set(dataset.category_ids())
    if _tracks_look_valid(dataset, category_ids):
        return
    for index, track in enumerate(dataset.annotations):
        _check_track(source, index, track, dataset, category_ids)

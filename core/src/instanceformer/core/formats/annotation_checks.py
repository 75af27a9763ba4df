"""Consistency checks of a whole annotation file: ids, references, per-frame counts and masks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from instanceformer.core.errors import FormatError
from instanceformer.core.formats.fields import is_finite_number, short_repr
from instanceformer.core.formats.rle import validate_segmentation
from instanceformer.core.formats.video_dataset import OCCLUSION_LABELS, Track, Video, VideoDataset


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
    for index, track in enumerate(dataset.annotations):
        _check_track(source, index, track, dataset, category_ids)

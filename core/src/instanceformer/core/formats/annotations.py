"""Reading and writing YouTube-VIS / OVIS annotation files.

:func:`load_annotations` parses the JSON into the typed records of
:mod:`instanceformer.core.formats.video_dataset` and validates the whole file; every problem raises a
:class:`~instanceformer.core.errors.FormatError` naming the file, the record and the field.
:func:`write_annotations` writes a dataset back atomically; load -> write -> load gives an equal dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, overload

from instanceformer.core.errors import FormatError
from instanceformer.core.formats.annotation_checks import validate_dataset
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.formats.fields import RecordFields, describe, record_name, type_name
from instanceformer.core.formats.jsonfile import read_json_file
from instanceformer.core.formats.video_dataset import OCCLUSION_LABELS, Category, Track, Video, VideoDataset
from instanceformer.core.io import write_json_atomic

__all__ = [
    "OCCLUSION_LABELS",
    "Category",
    "Track",
    "Video",
    "VideoDataset",
    "load_annotations",
    "parse_annotations",
    "validate_dataset",
    "write_annotations",
]

_VIDEO_FIELDS = ("id", "width", "height", "length", "file_names")
_TRACK_FIELDS = ("id", "video_id", "category_id", "iscrowd", "segmentations", "areas", "bboxes", "occlusion")
_CATEGORY_FIELDS = ("id", "name", "supercategory")
_TOP_LEVEL_FIELDS = ("videos", "annotations", "categories")


def _parse_category(fields: RecordFields) -> Category:
    """One entry of ``categories``."""
    return Category(
        id=fields.integer("id"),
        name=fields.string("name"),
        supercategory=fields.optional_string("supercategory"),
        extra=fields.extra(_CATEGORY_FIELDS),
    )


def _parse_video(fields: RecordFields) -> Video:
    """One entry of ``videos``."""
    file_names = fields.list_field("file_names")
    for index, name in enumerate(file_names):
        if not isinstance(name, str):
            raise fields.error(f"file_names[{index}]", f"expected a string, got {describe(name)}")
    return Video(
        id=fields.integer("id"),
        width=fields.integer("width", minimum=1),
        height=fields.integer("height", minimum=1),
        length=fields.integer("length", minimum=1),
        file_names=tuple(file_names),
        extra=fields.extra(_VIDEO_FIELDS),
    )


def _parse_track(fields: RecordFields) -> Track:
    """One entry of ``annotations`` (per-frame counts are checked later, against the video)."""
    occlusion = fields.list_field("occlusion", nullable=True) if "occlusion" in fields.value else None
    return Track(
        id=fields.integer("id"),
        video_id=fields.integer("video_id"),
        category_id=fields.integer("category_id"),
        iscrowd=fields.integer("iscrowd"),
        segmentations=tuple(fields.list_field("segmentations")),
        areas=tuple(fields.list_field("areas")),
        bboxes=tuple(fields.list_field("bboxes")),
        occlusion=None if occlusion is None else tuple(occlusion),
        extra=fields.extra(_TRACK_FIELDS),
    )


@overload
def _records(source: str, payload: dict[str, Any], key: str, *, nullable: Literal[False]) -> list[Any]: ...
@overload
def _records(source: str, payload: dict[str, Any], key: str, *, nullable: bool) -> list[Any] | None: ...
def _records(source: str, payload: dict[str, Any], key: str, *, nullable: bool) -> list[Any] | None:
    """The top-level list ``key`` (``None`` when missing or null and ``nullable``)."""
    value = payload.get(key)
    if value is None and nullable:
        return None
    if key not in payload:
        raise FormatError(source, None, key, "expected this top-level field, it is missing")
    if not isinstance(value, list):
        raise FormatError(source, None, key, f"expected a list, got {type_name(value)}")
    return value


@paused_garbage_collection()
def parse_annotations(payload: Any, source: str = "<annotations>") -> VideoDataset:
    """Build a :class:`VideoDataset` from parsed JSON and validate it (FormatError on any problem)."""
    if not isinstance(payload, dict):
        raise FormatError(
            source, None, None, f"expected a JSON object at the top level, got {type_name(payload)}"
        )
    raw_videos = _records(source, payload, "videos", nullable=False)
    raw_categories = _records(source, payload, "categories", nullable=False)
    raw_tracks = _records(source, payload, "annotations", nullable=True)
    videos = tuple(
        _parse_video(RecordFields(source, record_name("videos", index, raw), raw))
        for index, raw in enumerate(raw_videos)
    )
    categories = tuple(
        _parse_category(RecordFields(source, record_name("categories", index, raw), raw))
        for index, raw in enumerate(raw_categories)
    )
    tracks = None
    if raw_tracks is not None:
        tracks = tuple(
            _parse_track(RecordFields(source, record_name("annotations", index, raw), raw))
            for index, raw in enumerate(raw_tracks)
        )
    extra = {key: value for key, value in payload.items() if key not in _TOP_LEVEL_FIELDS}
    dataset = VideoDataset(videos=videos, annotations=tracks, categories=categories, extra=extra)
    validate_dataset(dataset, source)
    return dataset


def load_annotations(path: str | Path) -> VideoDataset:
    """Load and validate a YouTube-VIS / OVIS annotation file (FormatError naming file, record, field)."""
    return parse_annotations(read_json_file(path), str(path))


def write_annotations(dataset: VideoDataset, path: str | Path, *, indent: int | None = None) -> Path:
    """Write ``dataset`` as an annotation file atomically (compact JSON unless ``indent`` is given)."""
    return write_json_atomic(path, dataset.to_json(), indent=indent)

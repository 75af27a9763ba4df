"""Typed records of a YouTube-VIS / OVIS annotation file: videos, tracks and categories.

Records are immutable. Sequences are stored as tuples; per-frame values (segmentations, areas, boxes,
occlusion labels) are kept exactly as the file spells them, so that writing a loaded dataset back
gives the same JSON. Fields a record carries beyond the documented ones (``license``,
``date_captured``, ``height``/``width`` on tracks, ...) are kept in ``extra`` and written back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# OVIS per-frame occlusion labels, in increasing order of occlusion.
OCCLUSION_LABELS = ("no_occlusion", "slight_occlusion", "severe_occlusion")


def _as_tuple(record: Any, name: str) -> None:
    """Store the sequence field ``name`` of a frozen dataclass as a tuple."""
    value = getattr(record, name)
    if value is not None and not isinstance(value, tuple):
        object.__setattr__(record, name, tuple(value))


@dataclass(frozen=True)
class Category:
    """One category: dataset id, name and (optional) supercategory."""

    id: int
    name: str
    supercategory: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The category as a JSON object (``supercategory`` omitted when ``None``)."""
        payload: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.supercategory is not None:
            payload["supercategory"] = self.supercategory
        payload.update(self.extra)
        return payload


@dataclass(frozen=True)
class Video:
    """One video: ``length`` frames of ``height x width`` pixels, named by ``file_names``."""

    id: int
    width: int
    height: int
    length: int
    file_names: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _as_tuple(self, "file_names")

    def to_json(self) -> dict[str, Any]:
        """The video as a JSON object."""
        return {
            "id": self.id,
            "width": self.width,
            "height": self.height,
            "length": self.length,
            "file_names": list(self.file_names),
            **self.extra,
        }


@dataclass(frozen=True)
class Track:
    """One ground-truth object track of a video (an entry of the file's ``annotations`` list).

    ``segmentations``, ``areas`` and ``bboxes`` hold one entry per frame of the video, ``None`` where
    the object is absent. A segmentation is an RLE dict (compressed or uncompressed) or a polygon list,
    in the file's own encoding; a box is ``[x, y, w, h]`` in pixels. ``occlusion`` (OVIS only) holds one
    label of :data:`OCCLUSION_LABELS` (or ``None``) per frame.
    """

    id: int
    video_id: int
    category_id: int
    iscrowd: int
    segmentations: tuple[dict[str, Any] | list[list[float]] | None, ...]
    areas: tuple[float | None, ...]
    bboxes: tuple[list[float] | None, ...]
    occlusion: tuple[str | None, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("segmentations", "areas", "bboxes", "occlusion"):
            _as_tuple(self, name)

    @property
    def present_frames(self) -> list[int]:
        """Indices of the frames where the object has a segmentation."""
        return [index for index, segmentation in enumerate(self.segmentations) if segmentation is not None]

    def to_json(self) -> dict[str, Any]:
        """The track as a JSON object (``occlusion`` only when present)."""
        payload: dict[str, Any] = {
            "id": self.id,
            "video_id": self.video_id,
            "category_id": self.category_id,
            "iscrowd": self.iscrowd,
            "segmentations": list(self.segmentations),
            "areas": list(self.areas),
            "bboxes": list(self.bboxes),
        }
        if self.occlusion is not None:
            payload["occlusion"] = list(self.occlusion)
        payload.update(self.extra)
        return payload


@dataclass(frozen=True, repr=False)
class VideoDataset:
    """A whole annotation file.

    ``annotations`` is ``None`` for files without ground truth (val/test splits; OVIS writes
    ``"annotations": null``). ``extra`` keeps the other top-level keys (``info``, ``licenses``, ...).
    """

    videos: tuple[Video, ...]
    annotations: tuple[Track, ...] | None
    categories: tuple[Category, ...]
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    _videos_by_id: dict[int, Video] = field(init=False, repr=False, compare=False, hash=False)
    _tracks_by_video: dict[int, tuple[Track, ...]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in ("videos", "annotations", "categories"):
            _as_tuple(self, name)
        object.__setattr__(self, "_videos_by_id", {video.id: video for video in self.videos})
        tracks_by_video: dict[int, list[Track]] = {}
        for track in self.annotations or ():
            tracks_by_video.setdefault(track.video_id, []).append(track)
        object.__setattr__(
            self,
            "_tracks_by_video",
            {video_id: tuple(tracks) for video_id, tracks in tracks_by_video.items()},
        )

    def __repr__(self) -> str:
        tracks = "no ground truth" if self.annotations is None else f"{len(self.annotations)} tracks"
        return f"VideoDataset({len(self.videos)} videos, {tracks}, {len(self.categories)} categories)"

    @property
    def has_ground_truth(self) -> bool:
        """True when the file carries an ``annotations`` list (possibly empty)."""
        return self.annotations is not None

    def video(self, video_id: int) -> Video:
        """The video with id ``video_id`` (KeyError naming the id when there is none)."""
        try:
            return self._videos_by_id[video_id]
        except KeyError:
            raise KeyError(f"no video with id {video_id} in the dataset") from None

    def has_video(self, video_id: int) -> bool:
        """True when the dataset holds a video with id ``video_id``."""
        return video_id in self._videos_by_id

    def tracks_of(self, video_id: int) -> tuple[Track, ...]:
        """The ground-truth tracks of one video, in file order (empty without ground truth)."""
        return self._tracks_by_video.get(video_id, ())

    def category_ids(self) -> list[int]:
        """The category ids in file order."""
        return [category.id for category in self.categories]

    def to_json(self) -> dict[str, Any]:
        """The dataset as the JSON object of an annotation file."""
        return {
            **self.extra,
            "videos": [video.to_json() for video in self.videos],
            "categories": [category.to_json() for category in self.categories],
            "annotations": None
            if self.annotations is None
            else [track.to_json() for track in self.annotations],
        }

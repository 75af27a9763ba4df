"""``ifm-prep stats``: what an annotation file holds, per category, per video and per object.

Object sizes use the YouTube-VIS evaluation's area ranges on a track's mean non-empty mask area:
small below 128^2 pixels, medium up to 256^2, large above. Occlusion (OVIS labels, when the file has
them) is counted per frame where the object has a mask, and per track as the mean of the top half of
its per-frame scores (none 0, slight 0.25, severe 0.75): light up to 0.25, medium up to 0.5, heavy above.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from instanceformer.core.errors import FormatError
from instanceformer.core.formats import OCCLUSION_LABELS, Track, VideoDataset, segmentation_area

SMALL_AREA = 128**2
LARGE_AREA = 256**2
SIZE_RANGES = ("small", "medium", "large")
OCCLUSION_SCORES = {"no_occlusion": 0.0, "slight_occlusion": 0.25, "severe_occlusion": 0.75}
OCCLUSION_LEVELS = ("light", "medium", "heavy")


@dataclass(frozen=True)
class CategoryStats:
    """Counts of one category."""

    id: int
    name: str
    tracks: int
    videos: int
    masks: int  # frames with a mask
    mean_area: float  # mean mask area in pixels over those frames (0 without masks)


@dataclass(frozen=True)
class DatasetStats:
    """The statistics of one annotation file."""

    num_videos: int
    num_frames: int
    num_tracks: int
    video_lengths: np.ndarray  # [num_videos] frames
    tracks_per_video: np.ndarray  # [num_videos]
    mask_areas: np.ndarray  # [num_masks] pixels, every non-empty frame of every track
    categories: tuple[CategoryStats, ...]
    size_ranges: dict[str, int]  # tracks per YouTube-VIS area range
    occlusion_frames: dict[str, int] | None  # masks per OVIS label; None without labels
    occlusion_levels: dict[str, int] | None  # tracks per occlusion level; None without labels

    def to_json(self) -> dict[str, Any]:
        """The statistics as a JSON object (arrays summarised)."""

        def summary(values: np.ndarray) -> dict[str, float]:
            if values.size == 0:
                return {"min": 0.0, "mean": 0.0, "median": 0.0, "max": 0.0}
            return {
                "min": float(values.min()),
                "mean": float(values.mean()),
                "median": float(np.median(values)),
                "max": float(values.max()),
            }

        return {
            "videos": self.num_videos,
            "frames": self.num_frames,
            "tracks": self.num_tracks,
            "video_length": summary(self.video_lengths),
            "tracks_per_video": summary(self.tracks_per_video),
            "mask_area": summary(self.mask_areas),
            "categories": [vars(category) for category in self.categories],
            "size_ranges": self.size_ranges,
            "occlusion_frames": self.occlusion_frames,
            "occlusion_levels": self.occlusion_levels,
        }


def _areas(track: Track, height: int, width: int) -> list[float]:
    """The mask area of every frame where ``track`` has a segmentation (the file's value when present)."""
    areas = []
    for frame in track.present_frames:
        area = track.areas[frame]
        segmentation = track.segmentations[frame]
        assert segmentation is not None  # present_frames are the frames with a segmentation
        areas.append(
            float(area) if area is not None else float(segmentation_area(segmentation, height, width))
        )
    return areas


def size_range(mean_area: float) -> str:
    """The YouTube-VIS area range of a track's mean mask area."""
    if mean_area < SMALL_AREA:
        return "small"
    return "medium" if mean_area <= LARGE_AREA else "large"


def occlusion_level(labels: list[str]) -> str:
    """The occlusion level of a track from its per-frame labels (mean of the top half of the scores)."""
    scores = sorted((OCCLUSION_SCORES[label] for label in labels), reverse=True)
    top = scores[: math.ceil(len(scores) / 2)]
    mean = sum(top) / len(top)
    if mean <= 0.25:
        return "light"
    return "medium" if mean <= 0.5 else "heavy"


def compute_stats(dataset: VideoDataset, source: str = "<annotations>") -> DatasetStats:
    """Statistics of an annotation file with ground truth (FormatError for a file without)."""
    if not dataset.has_ground_truth:
        raise FormatError(source, None, "annotations", "expected ground truth to describe, the file has none")
    tracks_of_category: Counter[int] = Counter()
    videos_of_category: dict[int, set[int]] = {}
    areas_of_category: dict[int, list[float]] = {}
    all_areas: list[float] = []
    sizes: Counter[str] = Counter({name: 0 for name in SIZE_RANGES})
    occlusion_frames: Counter[str] = Counter({label: 0 for label in OCCLUSION_LABELS})
    occlusion_levels: Counter[str] = Counter({level: 0 for level in OCCLUSION_LEVELS})
    has_occlusion = False
    for video in dataset.videos:
        for track in dataset.tracks_of(video.id):
            areas = _areas(track, video.height, video.width)
            tracks_of_category[track.category_id] += 1
            videos_of_category.setdefault(track.category_id, set()).add(video.id)
            areas_of_category.setdefault(track.category_id, []).extend(areas)
            all_areas.extend(areas)
            if areas:
                sizes[size_range(sum(areas) / len(areas))] += 1
            if track.occlusion is not None:
                present = (track.occlusion[f] for f in track.present_frames)
                labels = [label for label in present if label is not None]
                has_occlusion = has_occlusion or bool(labels)
                occlusion_frames.update(labels)
                if labels:
                    occlusion_levels[occlusion_level(labels)] += 1
    categories = tuple(
        CategoryStats(
            id=category.id,
            name=category.name,
            tracks=tracks_of_category[category.id],
            videos=len(videos_of_category.get(category.id, ())),
            masks=len(areas_of_category.get(category.id, ())),
            mean_area=float(np.mean(areas_of_category[category.id]))
            if areas_of_category.get(category.id)
            else 0.0,
        )
        for category in sorted(dataset.categories, key=lambda category: category.id)
    )
    return DatasetStats(
        num_videos=len(dataset.videos),
        num_frames=sum(video.length for video in dataset.videos),
        num_tracks=len(dataset.annotations or ()),
        video_lengths=np.array([video.length for video in dataset.videos], dtype=np.int64),
        tracks_per_video=np.array(
            [len(dataset.tracks_of(video.id)) for video in dataset.videos], dtype=np.int64
        ),
        mask_areas=np.array(all_areas, dtype=np.float64),
        categories=categories,
        size_ranges=dict(sizes),
        occlusion_frames=dict(occlusion_frames) if has_occlusion else None,
        occlusion_levels=dict(occlusion_levels) if has_occlusion else None,
    )

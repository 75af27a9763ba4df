"""Seeded synthetic ground truth and noisy predictions for checking and timing the evaluator.

Each ground-truth track is an ellipse or a rectangle that moves and changes size over the frames; its
mean area is drawn log-uniformly so that small (< 128^2), medium and large (> 256^2) tracks all occur
on frames of a few hundred pixels. Tracks enter late, leave early and skip frames; some are crowd; OVIS
occlusion labels are drawn per frame. Ground truth is written as uncompressed RLE with per-frame areas
and boxes, like the real annotation files.

Predictions cover the cases an evaluator must get right: jittered copies of the ground truth (frames
dropped, frames added where the object is absent, empty masks), duplicates with lower scores, wrong
classes, tracks without any mask, categories missing from the dataset, false positives, and videos
without ground truth. Scores can be quantised so that ties occur.

Masks are built from per-column row spans, so no full-frame array is ever drawn: a mask costs a few
small numpy operations.

This is not the dataset generator of ``ifm-prep synth`` (``instanceformer.dataprep.synth``): that one
renders frames and derives its annotations from rendered, mutually occluding shapes (a pixel array per
mask), with no crowd tracks and no predictions. The evaluator's checks need no frames, but the
cases above and predictions that are noisy copies of the truth's geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from instanceformer.core.formats import (
    OCCLUSION_LABELS,
    YTVIS_2021_CATEGORIES,
    Track,
    TrackResult,
    Video,
    VideoDataset,
)

_SHAPES = ("ellipse", "rectangle")
_OCCLUSION_PROBABILITIES = (0.5, 0.3, 0.2)


@dataclass(frozen=True)
class EvaluationCaseSpec:
    """What to generate.

    Sizes are in pixels and frames; probabilities are per track unless stated otherwise.
    ``predictions_per_video`` is the number of predicted tracks a video gets at least (false positives
    fill up to it); ``score_step`` quantises scores (ties) when given.
    """

    num_videos: int = 4
    num_frames: int = 8
    height: int = 360
    width: int = 480
    num_categories: int = 4
    tracks_per_video: tuple[int, int] = (1, 6)
    predictions_per_video: int = 8
    empty_video_probability: float = 0.1
    crowd_probability: float = 0.08
    detection_probability: float = 0.85
    duplicate_probability: float = 0.25
    wrong_class_probability: float = 0.1
    null_prediction_probability: float = 0.03
    unknown_category_probability: float = 0.03
    frame_gap_probability: float = 0.08
    empty_mask_probability: float = 0.02
    with_occlusion: bool = True
    score_step: float | None = None
    min_side: float = 12.0
    max_side: float = 440.0


@dataclass(frozen=True)
class _Motion:
    """The geometry of a moving shape: per-frame centres and half-sizes, ``[num_frames]`` each, in pixels."""

    shape: str
    center_y: np.ndarray
    center_x: np.ndarray
    half_height: np.ndarray
    half_width: np.ndarray

    def jittered(self, random: np.random.Generator, amount: float) -> _Motion:
        """A noisy copy: centres moved and half-sizes scaled by about ``amount`` of the size."""
        num_frames = len(self.center_y)
        scale = np.exp(random.normal(0.0, amount, size=(2, num_frames)))  # [2, num_frames]
        shift = random.normal(0.0, amount, size=(2, num_frames))  # [2, num_frames]
        return _Motion(
            self.shape,
            self.center_y + shift[0] * self.half_height,
            self.center_x + shift[1] * self.half_width,
            self.half_height * scale[0],
            self.half_width * scale[1],
        )


def _random_motion(random: np.random.Generator, spec: EvaluationCaseSpec) -> _Motion:
    """A shape with a log-uniform size that drifts and grows or shrinks over the frames."""
    side = math.exp(random.uniform(math.log(spec.min_side), math.log(spec.max_side)))
    aspect = math.exp(random.uniform(-0.4, 0.4))
    frames = np.arange(spec.num_frames, dtype=np.float64)  # [num_frames]
    growth = np.exp(random.uniform(-0.02, 0.02) * frames)  # [num_frames]
    start_y = random.uniform(0.15, 0.85) * spec.height
    start_x = random.uniform(0.15, 0.85) * spec.width
    speed_y, speed_x = random.normal(0.0, 0.02 * spec.height), random.normal(0.0, 0.02 * spec.width)
    return _Motion(
        shape=_SHAPES[int(random.integers(len(_SHAPES)))],
        center_y=start_y + speed_y * frames,
        center_x=start_x + speed_x * frames,
        half_height=0.5 * side * aspect * growth,
        half_width=0.5 * side / aspect * growth,
    )


def _column_spans(motion: _Motion, frame: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``[top, bottom)`` covered in each column of one frame: two ``[width]`` int64 arrays.

    A pixel belongs to the shape when its centre does; empty columns have ``top == bottom``.
    """
    columns = np.arange(width, dtype=np.float64) + 0.5  # [width], pixel centres
    center_y, center_x = motion.center_y[frame], motion.center_x[frame]
    half_height, half_width = max(motion.half_height[frame], 1e-6), max(motion.half_width[frame], 1e-6)
    offset = (columns - center_x) / half_width  # [width]
    inside = np.abs(offset) <= 1.0  # [width]
    if motion.shape == "ellipse":
        reach = half_height * np.sqrt(np.clip(1.0 - offset**2, 0.0, None))  # [width]
    else:
        reach = np.full(width, half_height)
    top = np.clip(np.ceil(center_y - reach - 0.5), 0, height).astype(np.int64)  # [width]
    bottom = np.clip(np.floor(center_y + reach - 0.5) + 1, 0, height).astype(np.int64)  # [width]
    bottom = np.where(inside, np.maximum(bottom, top), top)
    return top, bottom


def _uncompressed_counts(top: np.ndarray, bottom: np.ndarray, height: int, width: int) -> list[int]:
    """Column-major run lengths (background first) of a mask given by per-column spans ``[width]``."""
    columns = np.flatnonzero(bottom > top)  # [num_spans]
    if columns.size == 0:
        return [height * width]
    starts = columns * height + top[columns]  # [num_spans], first pixel of each span
    ends = columns * height + bottom[columns]  # [num_spans], one past the last pixel
    separate = starts[1:] != ends[:-1]  # [num_spans - 1], spans that do not touch the previous one
    starts = starts[np.concatenate(([True], separate))]
    ends = ends[np.concatenate((separate, [True]))]
    runs = np.empty(2 * starts.size + 1, dtype=np.int64)  # [2 * num_spans + 1]
    runs[0] = starts[0]
    runs[2:-1:2] = starts[1:] - ends[:-1]
    runs[1::2] = ends - starts
    runs[-1] = height * width - ends[-1]
    return runs[:-1].tolist() if runs[-1] == 0 else runs.tolist()


def _box(top: np.ndarray, bottom: np.ndarray) -> list[float]:
    """``[x, y, w, h]`` of a mask given by per-column spans (all zeros when empty)."""
    columns = np.flatnonzero(bottom > top)
    if columns.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    y0, y1 = int(top[columns].min()), int(bottom[columns].max())
    return [float(columns[0]), float(y0), float(columns[-1] + 1 - columns[0]), float(y1 - y0)]


def _presence(random: np.random.Generator, spec: EvaluationCaseSpec) -> np.ndarray:
    """``[num_frames]`` bool: frames where a track is present (late entry, early exit, gaps)."""
    num_frames = spec.num_frames
    start = int(random.integers(0, max(1, num_frames // 3) + 1))
    stop = int(random.integers(max(start + 1, 2 * num_frames // 3), num_frames + 1))
    present = np.zeros(num_frames, dtype=bool)
    present[start:stop] = True
    present &= random.random(num_frames) >= spec.frame_gap_probability
    if not present.any():
        present[start] = True
    return present


def _truth_track(
    random: np.random.Generator, spec: EvaluationCaseSpec, track_id: int, video_id: int, category_id: int
) -> tuple[Track, _Motion, np.ndarray]:
    """One ground-truth track with its motion and ``[num_frames]`` presence."""
    motion = _random_motion(random, spec)
    present = _presence(random, spec)
    segmentations: list[dict[str, Any] | None] = []
    areas: list[int | None] = []
    boxes: list[list[float] | None] = []
    for frame in range(spec.num_frames):
        top, bottom = _column_spans(motion, frame, spec.height, spec.width)
        if not present[frame] or not (bottom > top).any():
            present[frame] = False
            segmentations.append(None)
            areas.append(None)
            boxes.append(None)
            continue
        counts = _uncompressed_counts(top, bottom, spec.height, spec.width)
        segmentations.append({"size": [spec.height, spec.width], "counts": counts})
        areas.append(int((bottom - top).sum()))
        boxes.append(_box(top, bottom))
    occlusion = None
    if spec.with_occlusion:
        labels = random.choice(len(OCCLUSION_LABELS), size=spec.num_frames, p=_OCCLUSION_PROBABILITIES)
        occlusion = tuple(
            OCCLUSION_LABELS[label] if present[frame] else None for frame, label in enumerate(labels)
        )
    track = Track(
        id=track_id,
        video_id=video_id,
        category_id=category_id,
        iscrowd=int(random.random() < spec.crowd_probability),
        segmentations=tuple(segmentations),
        areas=tuple(areas),
        bboxes=tuple(boxes),
        occlusion=occlusion,
        extra={"height": spec.height, "width": spec.width},
    )
    return track, motion, present


def _compressed_masks(
    motion: _Motion, present: np.ndarray, spec: EvaluationCaseSpec, random: np.random.Generator
) -> list[dict[str, Any] | None]:
    """Per frame, a compressed RLE of ``motion`` where ``present`` (some frames empty) or ``None``."""
    uncompressed: list[dict[str, Any]] = []
    for frame in np.flatnonzero(present):
        top, bottom = _column_spans(motion, int(frame), spec.height, spec.width)
        if random.random() < spec.empty_mask_probability:
            bottom = top
        uncompressed.append(
            {
                "size": [spec.height, spec.width],
                "counts": _uncompressed_counts(top, bottom, spec.height, spec.width),
            }
        )
    masks: list[dict[str, Any] | None] = [None] * spec.num_frames
    if uncompressed:
        compressed = coco_mask.frPyObjects(uncompressed, spec.height, spec.width)
        for frame, rle in zip(np.flatnonzero(present), compressed, strict=True):
            masks[int(frame)] = {"size": [spec.height, spec.width], "counts": rle["counts"].decode("ascii")}
    return masks


def _score(random: np.random.Generator, spec: EvaluationCaseSpec, base: float) -> float:
    """A confidence near ``base``, in (0, 1], quantised to ``score_step`` when given."""
    score = float(np.clip(base + random.normal(0.0, 0.15), 0.01, 1.0))
    if spec.score_step is not None:
        score = max(spec.score_step, round(score / spec.score_step) * spec.score_step)
    return round(score, 6)


def _predicted_presence(random: np.random.Generator, present: np.ndarray) -> np.ndarray:
    """The truth's presence with a few frames dropped and a neighbouring frame sometimes added."""
    predicted = present & (random.random(present.size) >= 0.06)
    frames = np.flatnonzero(present)
    if frames.size == 0:
        return predicted
    if random.random() < 0.3 and frames[0] > 0:
        predicted[frames[0] - 1] = True
    if random.random() < 0.3 and frames[-1] < present.size - 1:
        predicted[frames[-1] + 1] = True
    return predicted


def _video_predictions(
    random: np.random.Generator,
    spec: EvaluationCaseSpec,
    video_id: int,
    truths: list[tuple[Track, _Motion, np.ndarray]],
    category_ids: list[int],
) -> list[TrackResult]:
    """Noisy predictions of one video: detections, duplicates, wrong classes, null tracks, false positives."""
    predictions: list[TrackResult] = []

    def add(category_id: int, score: float, masks: list) -> None:
        predictions.append(TrackResult(video_id, category_id, score, tuple(masks)))

    for track, motion, present in truths:
        if random.random() >= spec.detection_probability:
            continue
        quality = float(random.uniform(0.01, 0.25))
        category_id = track.category_id
        if random.random() < spec.wrong_class_probability:
            category_id = int(
                random.choice([other for other in category_ids if other != category_id] or category_ids)
            )
        presence = _predicted_presence(random, present)
        add(
            category_id,
            _score(random, spec, 0.95 - quality),
            _compressed_masks(motion.jittered(random, quality), presence, spec, random),
        )
        if not track.iscrowd and random.random() < spec.duplicate_probability:
            noisier = motion.jittered(random, 2 * quality + 0.1)
            add(
                category_id,
                _score(random, spec, 0.6 - quality),
                _compressed_masks(noisier, presence, spec, random),
            )
    if random.random() < spec.null_prediction_probability * spec.predictions_per_video:
        add(int(random.choice(category_ids)), _score(random, spec, 0.3), [None] * spec.num_frames)
    if random.random() < spec.unknown_category_probability * spec.predictions_per_video:
        motion = _random_motion(random, spec)
        add(
            max(category_ids) + 1,
            _score(random, spec, 0.8),
            _compressed_masks(motion, _presence(random, spec), spec, random),
        )
    while len(predictions) < spec.predictions_per_video:
        motion = _random_motion(random, spec)
        add(
            int(random.choice(category_ids)),
            _score(random, spec, 0.25),
            _compressed_masks(motion, _presence(random, spec), spec, random),
        )
    order = random.permutation(len(predictions))
    return [predictions[index] for index in order]


def synthetic_evaluation_case(
    seed: int, spec: EvaluationCaseSpec | None = None
) -> tuple[VideoDataset, list[TrackResult]]:
    """A seeded dataset (videos ``video_00001``, ... with ids 1, 2, ...) and noisy predictions for it."""
    spec = spec or EvaluationCaseSpec()
    random = np.random.default_rng(seed)
    categories = YTVIS_2021_CATEGORIES[: spec.num_categories]
    category_ids = [category.id for category in categories]
    videos: list[Video] = []
    tracks: list[Track] = []
    results: list[TrackResult] = []
    for video_id in range(1, spec.num_videos + 1):
        name = f"video_{video_id:05d}"
        videos.append(
            Video(
                id=video_id,
                width=spec.width,
                height=spec.height,
                length=spec.num_frames,
                file_names=tuple(f"{name}/{frame:05d}.jpg" for frame in range(spec.num_frames)),
            )
        )
        num_tracks = 0
        if random.random() >= spec.empty_video_probability:
            num_tracks = int(random.integers(spec.tracks_per_video[0], spec.tracks_per_video[1] + 1))
        truths = []
        for _ in range(num_tracks):
            truth = _truth_track(random, spec, len(tracks) + 1, video_id, int(random.choice(category_ids)))
            tracks.append(truth[0])
            truths.append(truth)
        results.extend(_video_predictions(random, spec, video_id, truths, category_ids))
    dataset = VideoDataset(videos=tuple(videos), annotations=tuple(tracks), categories=tuple(categories))
    return dataset, results

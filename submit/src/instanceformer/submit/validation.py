"""Checking a results file against a video set before it goes to an evaluation server.

Everything the servers check, and more, is reported at once rather than one problem at a time:
per track, the structure (integer ids, a finite score, RLE objects: ``NaN`` scores and sizes are
caught here) and, through :func:`instanceformer.core.formats.check_results_against`, unknown videos
and categories, scores outside [0, 1], one segmentation per frame, the video's mask size, compressed
RLE and well-formed counts. Warnings (which do not fail) point at results the server accepts but that
cost accuracy: videos of the set without any track, more tracks per video than the evaluation keeps,
tracks without a single mask, or video ids that all belong to another split.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import (
    TrackResult,
    VideoDataset,
    check_results_against,
    parse_results,
    read_results_payload,
)
from instanceformer.core.formats.fields import is_integer, type_name

# The evaluation ranks each video's tracks by score and keeps this many (maxDets of the summary).
MAX_TRACKS_PER_VIDEO = 100
_EXAMPLES_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """One reason the server would reject or misread the results."""

    record: str
    video_id: int | None
    message: str


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate_results`: problems (fail) and warnings (do not fail)."""

    source: str
    num_tracks: int
    num_videos: int
    num_videos_with_results: int
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]
    tracks: tuple[TrackResult, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        """True when the server would accept the results as they are."""
        return not self.problems


class InvalidResultsError(UserError):
    """Results with problems the server would reject; ``report`` lists them all."""

    def __init__(self, report: ValidationReport):
        self.report = report
        count = len(report.problems)
        plural = "s" if count != 1 else ""
        super().__init__(
            f"{report.source}: {count} problem{plural} found; the server would reject these results"
        )


def _structure_problem(problem: FormatError) -> str:
    """The field and expectation of a structural FormatError (the file and record are in the table)."""
    return f"field '{problem.field}': {problem.expected}" if problem.field else problem.expected


def _raw_video_id(raw: Any) -> int | None:
    """The integer ``video_id`` of a raw record, when it has one."""
    if isinstance(raw, dict) and is_integer(raw.get("video_id")):
        return raw["video_id"]
    return None


def _check_track(
    index: int, raw: Any, source: str, dataset: VideoDataset
) -> tuple[TrackResult | None, list[Problem]]:
    """Parse one raw record and list its problems relative to ``dataset``."""
    record = f"results[{index}]"
    try:
        track = parse_results([raw], source)[0]
    except FormatError as problem:
        return None, [Problem(record, _raw_video_id(raw), _structure_problem(problem))]
    prefix = f"results[0] (video_id {track.video_id}): "
    problems = [
        Problem(record, track.video_id, line.removeprefix(prefix))
        for line in check_results_against([track], dataset)
    ]
    return track, problems


def _examples(values: Sequence[Any]) -> str:
    """``"3, 17, 42, ..."`` with at most a few values shown."""
    shown = ", ".join(str(value) for value in values[:_EXAMPLES_SHOWN])
    return shown + (", ..." if len(values) > _EXAMPLES_SHOWN else "")


def _warnings(tracks: Sequence[TrackResult], dataset: VideoDataset, num_records: int) -> list[str]:
    """Results the server accepts but that lose accuracy."""
    warnings = []
    if num_records == 0:
        warnings.append("the results list is empty: every object of the set counts as missed")
    tracks_per_video = Counter(track.video_id for track in tracks)
    known = [video_id for video_id in tracks_per_video if dataset.has_video(video_id)]
    if tracks and not known:
        warnings.append("none of the video ids is a video of the set: are these results of another split?")
    missing = [video.id for video in dataset.videos if video.id not in tracks_per_video]
    if missing:
        warnings.append(
            f"{len(missing)} of {len(dataset.videos)} videos have no result at all "
            f"(video ids {_examples(missing)}): their objects all count as missed"
        )
    crowded = sorted(
        (video_id for video_id, count in tracks_per_video.items() if count > MAX_TRACKS_PER_VIDEO),
        key=lambda video_id: -tracks_per_video[video_id],
    )
    if crowded:
        examples = _examples([f"{video_id} ({tracks_per_video[video_id]})" for video_id in crowded])
        warnings.append(
            f"{len(crowded)} videos have more than {MAX_TRACKS_PER_VIDEO} tracks (e.g. {examples}): the "
            f"evaluation keeps each video's {MAX_TRACKS_PER_VIDEO} best-scored tracks"
        )
    empty = sum(all(mask is None for mask in track.segmentations) for track in tracks)
    if empty:
        warnings.append(f"{empty} tracks have no mask in any frame: they can only add false positives")
    return warnings


def validate_results(path: str | Path, dataset: VideoDataset) -> ValidationReport:
    """Check a ``results.json`` or results zip against ``dataset`` and report every problem.

    Raises FormatError only when the file cannot be read as a results list at all (not a zip of
    ``results.json`` only, invalid JSON, or not a list); every per-track problem is collected.
    """
    payload, source = read_results_payload(path)
    if not isinstance(payload, list):
        raise FormatError(
            source, None, None, f"expected a JSON list of tracks at the top level, got {type_name(payload)}"
        )
    tracks: list[TrackResult] = []
    problems: list[Problem] = []
    for index, raw in enumerate(payload):
        track, track_problems = _check_track(index, raw, source, dataset)
        problems.extend(track_problems)
        if track is not None:
            tracks.append(track)
    videos_with_results = {track.video_id for track in tracks if dataset.has_video(track.video_id)}
    return ValidationReport(
        source=source,
        num_tracks=len(payload),
        num_videos=len(dataset.videos),
        num_videos_with_results=len(videos_with_results),
        problems=tuple(problems),
        warnings=tuple(_warnings(tracks, dataset, len(payload))),
        tracks=tuple(tracks),
    )

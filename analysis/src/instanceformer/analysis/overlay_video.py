"""The overlay video of one video's results: masks, track ids, classes and scores, optionally beside the
ground truth; also a GIF and a contact sheet of every k-th frame."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from instanceformer.analysis.categories import category_label
from instanceformer.analysis.frames import VideoFrames
from instanceformer.analysis.media import VideoWriters, contact_sheet, write_png
from instanceformer.analysis.overlay import pad_to_even, side_by_side, with_banner
from instanceformer.core.errors import UserError
from instanceformer.core.formats import Track, TrackResult, decode_segmentation
from instanceformer.core.runtime.overlay import MaskLabel, draw_masks


@dataclass(frozen=True)
class OverlayOutputs:
    """What :func:`write_overlay_video` wrote.

    Attributes:
        mp4: the video.
        gif: the GIF, or None.
        sheet: the contact sheet PNG, or None.
        num_frames: frames written.
        frame_size: ``(height, width)`` of the written frames in pixels.
        num_tracks: predicted tracks drawn.
    """

    mp4: Path
    gif: Path | None
    sheet: Path | None
    num_frames: int
    frame_size: tuple[int, int]
    num_tracks: int


@dataclass(frozen=True)
class DrawnTrack:
    """A predicted or ground-truth track to draw: its segmentations and label parts."""

    identity: int
    category_id: int
    score: float | None
    segmentations: Sequence[dict | list | None]


def predicted_tracks(results: Sequence[TrackResult], video_id: int, min_score: float) -> list[DrawnTrack]:
    """The tracks of ``video_id`` with a score >= ``min_score``; the id is the position in ``results``."""
    return [
        DrawnTrack(position, result.category_id, result.score, result.segmentations)
        for position, result in enumerate(results)
        if result.video_id == video_id and result.score >= min_score
    ]


def ground_truth_tracks(tracks: Sequence[Track]) -> list[DrawnTrack]:
    """The ground-truth tracks of a video; the id is the annotation id."""
    return [DrawnTrack(track.id, track.category_id, None, track.segmentations) for track in tracks]


def _check_lengths(tracks: Sequence[DrawnTrack], num_frames: int, source: str, frames: VideoFrames) -> None:
    for track in tracks:
        if len(track.segmentations) != num_frames:
            raise UserError(
                f"{source}: track {track.identity} has {len(track.segmentations)} segmentations but "
                f"{frames.description} has {num_frames} frames (expected one per frame)"
            )


def _labels(
    tracks: Sequence[DrawnTrack],
    frame_index: int,
    height: int,
    width: int,
    names: Mapping[int, str],
    source: str,
) -> list[MaskLabel]:
    labels = []
    for track in sorted(tracks, key=lambda item: -(item.score or 0.0)):
        segmentation = track.segmentations[frame_index]
        if segmentation is None:
            continue
        if isinstance(segmentation, dict) and list(segmentation.get("size", [])) != [height, width]:
            raise UserError(
                f"{source}: track {track.identity}, frame {frame_index}: mask size "
                f"{segmentation.get('size')} is not the frame's [{height}, {width}] (height, width)"
            )
        mask = decode_segmentation(segmentation, height, width).astype(bool)  # [height, width]
        text = f"#{track.identity} {category_label(track.category_id, names)}"
        if track.score is not None:
            text += f" {track.score:.2f}"
        labels.append(MaskLabel(mask, track.identity, text))
    return labels[::-1]


def write_overlay_video(
    frames: VideoFrames,
    predictions: Sequence[DrawnTrack],
    out: str | Path,
    *,
    names: Mapping[int, str],
    ground_truth: Sequence[DrawnTrack] | None = None,
    results_source: str = "results",
    gt_source: str = "ground truth",
    fps: float = 6.0,
    gif: bool = False,
    sheet_every: int | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> OverlayOutputs:
    """Render every frame with its predicted masks (and the ground truth beside it) into an mp4.

    Args:
        frames: the video's frames.
        predictions: tracks from :func:`predicted_tracks`, one segmentation per frame.
        out: the mp4 path; the GIF is ``out`` with suffix ``.gif``, the sheet ``<stem>_sheet.png``.
        names: ``{category id: name}`` for the labels.
        ground_truth: tracks from :func:`ground_truth_tracks` to draw on the right, or None.
        results_source, gt_source: file names for error messages.
        fps: frame rate of the mp4 and the GIF.
        gif: also write the GIF.
        sheet_every: also write a contact sheet of frames ``0, k, 2k, ...``.
        on_frame: called with the number of frames done.

    Returns:
        The written files and the frame count and size.
    """
    out = Path(out)
    num_frames = len(frames)
    if fps <= 0:
        raise UserError(f"--fps: expected a positive number, got {fps}")
    if sheet_every is not None and sheet_every < 1:
        raise UserError(f"--sheet-every: expected an integer >= 1, got {sheet_every}")
    _check_lengths(predictions, num_frames, results_source, frames)
    if ground_truth is not None:
        _check_lengths(ground_truth, num_frames, gt_source, frames)
    gif_path = out.with_suffix(".gif") if gif else None
    sheet_path = out.with_name(f"{out.stem}_sheet.png") if sheet_every else None
    tiles: list[tuple[int, np.ndarray]] = []
    frame_size = (0, 0)
    with VideoWriters(out, gif_path, fps) as writers:
        for frame_index, image in frames.iterate():
            height, width = image.shape[:2]
            composed = draw_masks(
                image, _labels(predictions, frame_index, height, width, names, results_source)
            )
            if ground_truth is not None:
                truth = draw_masks(image, _labels(ground_truth, frame_index, height, width, names, gt_source))
                composed = side_by_side(
                    with_banner(composed, "prediction"), with_banner(truth, "ground truth")
                )
            composed = pad_to_even(composed)  # [even height, even width, 3]
            if frame_size == (0, 0):
                frame_size = composed.shape[:2]
            elif composed.shape[:2] != frame_size:
                raise UserError(
                    f"{frames.description}: frame {frame_index} is {width}x{height}, unlike the first frame"
                )
            writers.append(composed)
            if sheet_every and frame_index % sheet_every == 0:
                tiles.append((frame_index, composed))
            if on_frame is not None:
                on_frame(frame_index + 1)
    if sheet_path is not None:
        write_png(contact_sheet(tiles), sheet_path)
    return OverlayOutputs(out, gif_path, sheet_path, num_frames, frame_size, len(predictions))

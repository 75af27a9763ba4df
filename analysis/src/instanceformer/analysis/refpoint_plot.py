"""Reference-point figures: per frame each kept track's reference points (every decoder layer) and box,
and one figure with each track's path over time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from instanceformer.analysis.categories import category_label
from instanceformer.analysis.dumps import AnalysisDump
from instanceformer.analysis.figure_frames import check_frames_cover, check_results_match, show_frame
from instanceformer.analysis.frames import VideoFrames
from instanceformer.analysis.media import save_figure
from instanceformer.analysis.palette import color_of
from instanceformer.core.errors import UserError
from instanceformer.core.formats import TrackResult, segmentation_bbox

PATHS_FIGURE = "paths.png"


@dataclass(frozen=True)
class ReferencePointOutputs:
    """The per-frame figures (``frame_<index>.png``) and the paths figure that were written."""

    frame_figures: list[Path]
    paths_figure: Path
    num_tracks: int


def _pixel_points(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """``[..., 2]`` (x, y) normalised to the image -> pixels."""
    return points * np.array([width, height], dtype=np.float64)


def _track_box(results: Sequence[TrackResult] | None, track_id: int, frame_index: int) -> list[float] | None:
    """``[x, y, w, h]`` of the track's mask in a frame, or None (no results or no mask)."""
    if results is None:
        return None
    segmentations = results[track_id].segmentations
    segmentation = segmentations[frame_index] if frame_index < len(segmentations) else None
    if segmentation is None:
        return None
    height, width = segmentation["size"]
    box = segmentation_bbox(segmentation, height, width)
    return box if box[2] > 0 and box[3] > 0 else None


def _frame_figure(
    image: np.ndarray,
    rows: AnalysisDump,
    frame_index: int,
    results: Sequence[TrackResult] | None,
    names: Mapping[int, str],
):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    height, width = image.shape[:2]
    figure, axes = plt.subplots(
        figsize=(max(4.0, 8.0 * width / max(width, height)), 8.0 * height / max(width, height) + 0.6)
    )
    show_frame(axes, image)
    for row in range(rows.num_rows):
        track_id = int(rows["track_ids"][row])
        color = color_of(track_id)
        points = _pixel_points(rows["reference_points"][row].numpy(), height, width)  # [num_layers, 2]
        axes.plot(points[:, 0], points[:, 1], color=color, linewidth=1, alpha=0.8)
        axes.scatter(points[:-1, 0], points[:-1, 1], color=color, s=10, alpha=0.8)
        axes.scatter(points[-1:, 0], points[-1:, 1], color=color, s=60, edgecolors="white", linewidths=1.0)
        box = _track_box(results, track_id, frame_index)
        if box is not None:
            axes.add_patch(
                Rectangle((box[0], box[1]), box[2], box[3], fill=False, edgecolor=color, linewidth=1.5)
            )
        category = category_label(int(rows["category_ids"][row]), names)
        label = f"#{track_id} {category} {float(rows['frame_scores'][row]):.2f}"
        axes.annotate(label, points[-1], xytext=(4, 4), textcoords="offset points", fontsize=7, color=color)
    axes.set_title(
        f"frame {frame_index}: reference points of {rows.num_rows} tracks (small: earlier decoder layers, "
        "large: last layer)",
        fontsize=8,
    )
    figure.tight_layout()
    return figure


def _paths_figure(image: np.ndarray, dump: AnalysisDump, names: Mapping[int, str], video_id: int):
    import matplotlib.pyplot as plt

    height, width = image.shape[:2]
    figure, axes = plt.subplots(
        figsize=(max(4.0, 8.0 * width / max(width, height)), 8.0 * height / max(width, height) + 0.6)
    )
    show_frame(axes, (image * 0.6 + 255 * 0.4).astype(np.uint8))
    for track_id in dump.track_ids():
        rows = dump.for_track(track_id)
        order = rows["frame_indices"].argsort()
        points = _pixel_points(rows["reference_points"][order, -1].numpy(), height, width)  # [num_frames, 2]
        frames = rows["frame_indices"][order].tolist()
        color = color_of(track_id)
        category = category_label(int(rows["category_ids"][0]), names)
        label = f"#{track_id} {category} (frames {frames[0]}-{frames[-1]})"
        axes.plot(
            points[:, 0], points[:, 1], color=color, linewidth=1.5, marker="o", markersize=3, label=label
        )
        axes.scatter(points[-1:, 0], points[-1:, 1], color=color, marker="s", s=40, edgecolors="black")
    axes.legend(fontsize=7, loc="best")
    axes.set_title(f"video {video_id}: last-layer reference point per frame (square: last frame)", fontsize=8)
    figure.tight_layout()
    return figure


def write_reference_point_figures(
    dump: AnalysisDump,
    frames: VideoFrames,
    video_id: int,
    out_dir: str | Path,
    *,
    names: Mapping[int, str],
    results: Sequence[TrackResult] | None = None,
    results_source: str = "results.json",
    min_score: float = 0.0,
    on_frame: Callable[[int, int], None] | None = None,
) -> ReferencePointOutputs:
    """Write ``frame_<index>.png`` for every frame with rows, and ``paths.png``.

    Args:
        dump: a loaded ``reference_points`` dump.
        frames: the video's frames.
        video_id: the video.
        out_dir: the output folder (created).
        names: ``{category id: name}``.
        results: the ``results.json`` written with the dump, for the boxes (the masks' bounding boxes).
        results_source: its file name for messages.
        min_score: only tracks with a score >= this.
        on_frame: called with ``(frames done, frames in total)``.
    """
    dump = dump.for_video(video_id)
    dump = dump.select(dump["scores"] >= min_score)
    if dump.num_rows == 0:
        raise UserError(f"{dump.path}: no track of video {video_id} has a score >= {min_score} (--min-score)")
    if results is not None:
        check_results_match(dump, results, results_source, video_id)
    indices = check_frames_cover(dump, frames)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, first_image = [], None
    for done, (frame_index, image) in enumerate(frames.iterate(indices), start=1):
        first_image = image if first_image is None else first_image
        rows = dump.select(dump["frame_indices"] == frame_index)
        path = out_dir / f"frame_{frame_index:05d}.png"
        written.append(save_figure(_frame_figure(image, rows, frame_index, results, names), path))
        if on_frame is not None:
            on_frame(done, len(indices))
    assert first_image is not None  # the dump has rows, so at least one frame was drawn
    paths = save_figure(_paths_figure(first_image, dump, names, video_id), out_dir / PATHS_FIGURE)
    return ReferencePointOutputs(written, paths, len(dump.track_ids()))

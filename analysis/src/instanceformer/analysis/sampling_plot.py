"""Sampling-location figures of one track: per frame a grid of decoder layers x heads, each panel the
frame with the sampling points of every feature level, marker area proportional to attention weight."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from instanceformer.analysis.dumps import AnalysisDump
from instanceformer.analysis.figure_frames import check_frames_cover, show_frame
from instanceformer.analysis.frames import VideoFrames
from instanceformer.analysis.media import save_figure
from instanceformer.core.errors import UserError

PANEL_INCHES = 2.4
MARKER_AREA_AT_WEIGHT_ONE = 400.0
LEVEL_COLORS = ("tab:red", "tab:orange", "tab:green", "tab:cyan", "tab:blue", "tab:purple")


@dataclass(frozen=True)
class SamplingOutputs:
    """The per-frame figures ``track<T>_frame_<index>.png`` that were written."""

    figures: list[Path]


def image_locations(locations: np.ndarray, valid_ratio: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sampling locations in pixels of the frame.

    Args:
        locations: ``[..., 2]`` (x, y) in [0, 1] of the padded feature maps.
        valid_ratio: ``[2]`` (width, height) fraction of the padded input that is image.
        height, width: the frame's size in pixels.

    Returns:
        ``[..., 2]`` (x, y) in pixels.
    """
    return locations / valid_ratio * np.array([width, height], dtype=np.float64)


def _frame_figure(image: np.ndarray, locations: np.ndarray, weights: np.ndarray, title: str):
    """``locations`` ``[num_layers, num_heads, num_levels, num_points, 2]`` in pixels, ``weights`` the same
    without the last dimension."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    num_layers, num_heads, num_levels = locations.shape[:3]
    height, width = image.shape[:2]
    panel_height = PANEL_INCHES * height / width
    figure, grid = plt.subplots(
        num_layers,
        num_heads,
        figsize=(PANEL_INCHES * num_heads, panel_height * num_layers + 0.9),
        squeeze=False,
    )
    for layer in range(num_layers):
        for head in range(num_heads):
            axes = grid[layer, head]
            show_frame(axes, image)
            for level in range(num_levels):
                points = locations[layer, head, level]  # [num_points, 2]
                axes.scatter(
                    points[:, 0],
                    points[:, 1],
                    s=MARKER_AREA_AT_WEIGHT_ONE * weights[layer, head, level],
                    color=LEVEL_COLORS[level % len(LEVEL_COLORS)],
                    alpha=0.75,
                    edgecolors="white",
                    linewidths=0.4,
                )
            if layer == 0:
                axes.set_title(f"head {head}", fontsize=8)
            if head == 0:
                axes.set_ylabel(f"layer {layer}", fontsize=8)
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color=LEVEL_COLORS[level % len(LEVEL_COLORS)],
            label=f"level {level}",
        )
        for level in range(num_levels)
    ]
    figure.legend(handles=handles, loc="lower center", ncol=num_levels, fontsize=8, frameon=False)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout(rect=(0, 0.04, 1, 0.97))
    return figure


def write_sampling_figures(
    dump: AnalysisDump,
    frames: VideoFrames,
    video_id: int,
    track_id: int,
    out_dir: str | Path,
    *,
    frame_indices: Sequence[int] | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> SamplingOutputs:
    """Write one figure per frame of the track.

    Args:
        dump: a loaded ``sampling_locations`` dump.
        frames: the video's frames.
        video_id: the video.
        track_id: the track (its position in ``results.json``).
        out_dir: the output folder (created).
        frame_indices: only these frames of the track (default: all its frames).
        on_frame: called with ``(frames done, frames in total)``.
    """
    rows = dump.for_video(video_id).for_track(track_id)
    if frame_indices:
        available = {int(value) for value in rows["frame_indices"].tolist()}
        missing = sorted(set(frame_indices) - available)
        if missing:
            raise UserError(
                f"{dump.path}: track {track_id} has no rows on frames {missing} (it has {sorted(available)})"
            )
        rows = rows.select(torch.isin(rows["frame_indices"], torch.tensor(list(frame_indices))))
    indices = check_frames_cover(rows, frames)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for done, (frame_index, image) in enumerate(frames.iterate(indices), start=1):
        row = int((rows["frame_indices"] == frame_index).nonzero()[0, 0])
        height, width = image.shape[:2]
        locations = image_locations(
            rows["sampling_locations"][row].double().numpy(),
            rows["valid_ratios"][row].double().numpy(),
            height,
            width,
        )
        weights = rows["attention_weights"][row].numpy()
        title = (
            f"video {video_id}, track {track_id}, frame {frame_index}: sampling locations per decoder layer "
            "(rows) and head (columns); marker area ~ attention weight"
        )
        path = out_dir / f"track{track_id}_frame_{frame_index:05d}.png"
        written.append(save_figure(_frame_figure(image, locations, weights, title), path))
        if on_frame is not None:
            on_frame(done, len(indices))
    return SamplingOutputs(written)

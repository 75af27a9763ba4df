"""PNG plots of :class:`~instanceformer.dataprep.stats.DatasetStats` (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from instanceformer.core.io import atomic_path
from instanceformer.dataprep.stats import LARGE_AREA, SMALL_AREA, DatasetStats

_DPI = 100
PLOT_FILES = ("categories.png", "video_lengths.png", "object_sizes.png", "occlusion.png")
"""Every file :func:`write_stats_plots` may write."""


def _figure(width: float, height: float) -> Figure:
    """A figure drawn by the Agg backend (no display, no global pyplot state)."""
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as PNG atomically."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=_DPI, bbox_inches="tight")
    return path


def _category_plot(stats: DatasetStats, path: Path) -> Path:
    names = [category.name for category in stats.categories]
    positions = np.arange(len(names))
    figure = _figure(max(6.0, 0.35 * len(names) + 2), 4)
    axes = figure.subplots()
    axes.bar(positions - 0.2, [c.tracks for c in stats.categories], width=0.4, label="tracks")
    axes.bar(positions + 0.2, [c.videos for c in stats.categories], width=0.4, label="videos")
    axes.set_xticks(positions, names, rotation=60, ha="right")
    axes.set_ylabel("count")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title("Tracks and videos per category")
    axes.legend()
    return _save(figure, path)


def _length_plot(stats: DatasetStats, path: Path) -> Path:
    figure = _figure(6, 4)
    axes = figure.subplots()
    lengths = stats.video_lengths
    bins = max(1, min(50, int(lengths.max() - lengths.min()) + 1)) if lengths.size else 1
    axes.hist(lengths, bins=bins)
    axes.set_xlabel("frames per video")
    axes.set_ylabel("videos")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title("Video lengths")
    return _save(figure, path)


def _size_plot(stats: DatasetStats, path: Path) -> Path:
    figure = _figure(6, 4)
    axes = figure.subplots()
    sides = np.sqrt(stats.mask_areas)
    axes.hist(sides, bins=50 if sides.size else 1)
    for limit, label in ((SMALL_AREA, "small | medium"), (LARGE_AREA, "medium | large")):
        axes.axvline(math.sqrt(limit), color="black", linestyle="--", linewidth=1)
        axes.text(math.sqrt(limit), axes.get_ylim()[1] * 0.95, f" {label}", fontsize=8, va="top")
    axes.set_xlabel("sqrt(mask area) in pixels, per frame")
    axes.set_ylabel("masks")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title("Object sizes")
    return _save(figure, path)


def _occlusion_plot(stats: DatasetStats, path: Path) -> Path:
    figure = _figure(9, 4)
    frames_axes, levels_axes = figure.subplots(1, 2)
    frames = stats.occlusion_frames or {}
    levels = stats.occlusion_levels or {}
    frames_axes.bar(list(frames), list(frames.values()))
    frames_axes.set_title("Occlusion label per mask")
    frames_axes.tick_params(axis="x", labelrotation=20)
    levels_axes.bar(list(levels), list(levels.values()))
    levels_axes.set_title("Occlusion level per track")
    return _save(figure, path)


def write_stats_plots(stats: DatasetStats, out_dir: str | Path) -> list[Path]:
    """Write ``categories.png``, ``video_lengths.png``, ``object_sizes.png`` and, with OVIS occlusion
    labels, ``occlusion.png`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    written = [
        _category_plot(stats, out_dir / "categories.png"),
        _length_plot(stats, out_dir / "video_lengths.png"),
        _size_plot(stats, out_dir / "object_sizes.png"),
    ]
    if stats.occlusion_frames is not None:
        written.append(_occlusion_plot(stats, out_dir / "occlusion.png"))
    return written

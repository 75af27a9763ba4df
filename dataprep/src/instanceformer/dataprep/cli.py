"""Command-line interface of ``ifm-prep``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from instanceformer.core.cli import create_app, run_app
from instanceformer.dataprep.synth import (
    SHAPE_KINDS,
    SynthSpec,
    SynthSummary,
    generate_synthetic_dataset,
    parse_frame_size,
)

app = create_app(
    "ifm-prep",
    "instanceformer-dataprep",
    "Prepare datasets: generate the synthetic VIS dataset, check and split real ones.",
)

_SYNTH_DEFAULTS = SynthSpec()


@app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (created if missing)."),
    videos: int = typer.Option(_SYNTH_DEFAULTS.train_videos, "--videos", help="Number of training videos."),
    valid_videos: int = typer.Option(
        _SYNTH_DEFAULTS.valid_videos, "--valid-videos", help="Number of validation videos."
    ),
    frames: int = typer.Option(_SYNTH_DEFAULTS.num_frames, "--frames", help="Frames per video."),
    size: str = typer.Option(
        f"{_SYNTH_DEFAULTS.height}x{_SYNTH_DEFAULTS.width}",
        "--size",
        help="Frame size HEIGHTxWIDTH in pixels.",
    ),
    categories: int = typer.Option(
        _SYNTH_DEFAULTS.num_categories,
        "--categories",
        help=f"Number of shape categories (1-{len(SHAPE_KINDS)}).",
    ),
    seed: int = typer.Option(
        _SYNTH_DEFAULTS.seed, "--seed", help="Random seed; equal arguments give identical files."
    ),
) -> None:
    """Generate a synthetic YouTube-VIS/OVIS-format dataset of moving, occluding shapes with ground truth."""
    height, width = parse_frame_size(size)
    spec = SynthSpec(
        train_videos=videos,
        valid_videos=valid_videos,
        num_frames=frames,
        height=height,
        width=width,
        num_categories=categories,
        seed=seed,
    )
    console = Console()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("videos", total=spec.train_videos + spec.valid_videos)

        def advance(split: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{split} videos")

        summary = generate_synthetic_dataset(out, spec, progress=advance)
    console.print(synth_summary_table(summary))


def synth_summary_table(summary: SynthSummary) -> Table:
    """A Rich table of the videos, frames, instances and bytes written per split."""
    table = Table(title=f"Synthetic dataset in {summary.out_dir}")
    for column in ("split", "videos", "frames", "instances", "size on disk"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split in summary.splits:
        table.add_row(
            split.split,
            str(split.num_videos),
            str(split.num_frames),
            str(split.num_instances),
            _megabytes(split.num_bytes),
        )
    table.add_row(
        "total",
        str(sum(split.num_videos for split in summary.splits)),
        str(sum(split.num_frames for split in summary.splits)),
        str(sum(split.num_instances for split in summary.splits)),
        _megabytes(summary.num_bytes),
    )
    return table


def _megabytes(num_bytes: int) -> str:
    """A byte count written in MB with one decimal."""
    return f"{num_bytes / 1e6:.1f} MB"


def main() -> None:
    """Entry point of the ``ifm-prep`` console script."""
    sys.exit(run_app(app))

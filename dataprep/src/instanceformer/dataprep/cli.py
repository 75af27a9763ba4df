"""Command-line interface of ``ifm-prep``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from instanceformer.core.cli import create_app, renamed_option, run_app
from instanceformer.core.errors import UserError
from instanceformer.core.formats import load_annotations, write_annotations
from instanceformer.core.formats.coco import load_coco_annotations, write_coco_annotations
from instanceformer.core.io import staged_output_folder, write_json_atomic
from instanceformer.core.runtime.frame_size import format_frame_size, parse_frame_size
from instanceformer.core.runtime.progress import timed_progress_bar
from instanceformer.dataprep.coco_keep import COCO_KEEP_TARGETS, keep_coco_for_target
from instanceformer.dataprep.kinds import DATASET_KINDS
from instanceformer.dataprep.synth import (
    SCENARIOS,
    SHAPE_KINDS,
    OcclusionKnobs,
    SynthSpec,
    SynthSummary,
    generate_synthetic_dataset,
    occlusion_knobs_from_options,
)

app = create_app(
    "ifm-prep",
    "instanceformer-dataprep",
    "Prepare datasets: generate the synthetic VIS dataset, check and split real ones.",
)

_SYNTH_DEFAULTS = SynthSpec()
_OCCLUSION_DEFAULTS = OcclusionKnobs()
_OCCLUSION_PANEL = "Occlusion scenario (--scenario occlusion)"
_DEFAULT_HIDDEN = "{}-{}".format(*_OCCLUSION_DEFAULTS.full_occlusion_frames)
_DATA_LAYOUT_HINT = "README, 'Where data and runs go', shows the layout and where the data comes from"
_STATS_FILE = "stats.json"
_FORCE_HELP = "Write into a folder that already holds files: replaces this command's outputs, keeps the rest."


@app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (new or empty)."),
    videos: int = typer.Option(_SYNTH_DEFAULTS.train_videos, "--videos", help="Number of training videos."),
    valid_videos: int = typer.Option(
        _SYNTH_DEFAULTS.valid_videos, "--valid-videos", help="Number of validation videos."
    ),
    frames: int = typer.Option(_SYNTH_DEFAULTS.num_frames, "--frames", help="Frames per video."),
    size: str = typer.Option(
        format_frame_size(_SYNTH_DEFAULTS.height, _SYNTH_DEFAULTS.width),
        "--size",
        help="Frame size WIDTHxHEIGHT in pixels.",
    ),
    num_categories: int | None = typer.Option(
        None,
        "--num-categories",
        help=f"Number of shape categories, 1-{len(SHAPE_KINDS)} (default {_SYNTH_DEFAULTS.num_categories}).",
    ),
    seed: int = typer.Option(
        _SYNTH_DEFAULTS.seed, "--seed", help="Random seed; equal arguments give identical files."
    ),
    workers: int = typer.Option(
        1, "--workers", help="Processes rendering videos in parallel (the files do not depend on it)."
    ),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
    scenario: str = typer.Option(
        _SYNTH_DEFAULTS.scenario,
        "--scenario",
        help=f"What the videos show: {'|'.join(SCENARIOS)} (occlusion: identical objects hide and cross).",
    ),
    identical_objects: int | None = typer.Option(
        None,
        "--identical-objects",
        help=f"Identical objects per video, 2-8 (default {_OCCLUSION_DEFAULTS.identical_objects}).",
        rich_help_panel=_OCCLUSION_PANEL,
    ),
    full_occlusion_probability: float | None = typer.Option(
        None,
        "--full-occlusion-probability",
        help="Chance that each further identical object is fully hidden for a while "
        f"(default {_OCCLUSION_DEFAULTS.full_occlusion_probability}).",
        rich_help_panel=_OCCLUSION_PANEL,
    ),
    full_occlusion_frames: str | None = typer.Option(
        None,
        "--full-occlusion-frames",
        help=f"Frames a fully occluded object stays hidden: MIN-MAX or N (default {_DEFAULT_HIDDEN}).",
        rich_help_panel=_OCCLUSION_PANEL,
    ),
    crossing_rate: float | None = typer.Option(
        None,
        "--crossing-rate",
        help="Chance that each further identical object crosses an earlier one "
        f"(default {_OCCLUSION_DEFAULTS.crossing_rate}).",
        rich_help_panel=_OCCLUSION_PANEL,
    ),
    exit_probability: float | None = typer.Option(
        None,
        "--exit-probability",
        help="Chance that an identical object leaves the view and comes back "
        f"(default {_OCCLUSION_DEFAULTS.exit_probability}).",
        rich_help_panel=_OCCLUSION_PANEL,
    ),
    object_scale: float | None = typer.Option(
        None,
        "--object-scale",
        help="Size factor of the identical objects, 0.5-2 "
        f"(default {_OCCLUSION_DEFAULTS.object_scale}: radius 6-10% of the shorter side).",
        rich_help_panel=_OCCLUSION_PANEL,
    ),
    former_categories: int | None = typer.Option(None, "--categories", hidden=True),
) -> None:
    """Generate a synthetic YouTube-VIS/OVIS-format dataset of moving, occluding shapes with ground truth."""
    categories = renamed_option(num_categories, former_categories, "--num-categories", "--categories")
    height, width = parse_frame_size(size)
    occlusion = occlusion_knobs_from_options(
        scenario,
        identical_objects=identical_objects,
        full_occlusion_probability=full_occlusion_probability,
        full_occlusion_frames=full_occlusion_frames,
        crossing_rate=crossing_rate,
        exit_probability=exit_probability,
        object_scale=object_scale,
    )
    spec = SynthSpec(
        train_videos=videos,
        valid_videos=valid_videos,
        num_frames=frames,
        height=height,
        width=width,
        num_categories=_SYNTH_DEFAULTS.num_categories if categories is None else categories,
        seed=seed,
        scenario=scenario,
        occlusion=occlusion,
    )
    console = Console()
    with _progress_bar(console) as bar:
        task = bar.add_task("videos", total=spec.train_videos + spec.valid_videos)

        def advance(split: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{split} videos")

        summary = generate_synthetic_dataset(out, spec, progress=advance, workers=workers, force=force)
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


def _progress_bar(console: Console) -> Progress:
    """The progress bar the commands share, titled by its task (removed from the screen when done)."""
    return timed_progress_bar("[bold]{task.description}", console=console)


@app.command("check")
def check(
    annotations: Path = typer.Argument(..., help="Annotation file (YouTube-VIS/OVIS JSON or COCO JSON)."),
    frames: Path = typer.Option(..., "--frames", help="Folder the file's frame names are relative to."),
    kind: str | None = typer.Option(
        None, "--kind", help=f"Dataset kind: {'|'.join(DATASET_KINDS)} (detected when left out)."
    ),
    split: str | None = typer.Option(
        None, "--split", help="Split name for the manifest (default: from the name)."
    ),
    sample: int = typer.Option(
        1000,
        "--sample",
        help="Check the headers of the first and last frame of every video plus this many random frames.",
    ),
    full: bool = typer.Option(
        False, "--full", help="Decode every frame in full (finds truncated and corrupt files)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the frame sample."),
) -> None:
    """Validate an annotation file and its frames; write manifest.json beside the file."""
    from instanceformer.dataprep import reports
    from instanceformer.dataprep.check import check_dataset, write_check_manifest

    if kind is not None and kind not in DATASET_KINDS:
        raise UserError(f"--kind: expected one of {', '.join(DATASET_KINDS)}, got {kind!r}")
    if sample < 0:
        raise UserError(f"--sample: expected a non-negative number of frames, got {sample}")
    if not annotations.exists():
        raise UserError(
            f"{annotations}: no such annotation file; expected the dataset's annotation file here "
            f"({_DATA_LAYOUT_HINT})"
        )
    if not frames.is_dir():
        raise UserError(
            f"{frames}: --frames: no such folder; expected the folder that holds the file's frames "
            f"(<video>/<frame>.jpg) here ({_DATA_LAYOUT_HINT})"
        )
    console = Console()
    with _progress_bar(console) as bar:
        task = bar.add_task("frames", total=None)
        report = check_dataset(
            annotations,
            frames,
            kind=kind,
            split=split,
            sample=None if full else sample,
            seed=seed,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    manifest = write_check_manifest(report)
    console.print(reports.check_table(report, manifest))
    if report.problems:
        raise UserError(
            f"{report.problems[0].message} ({len(report.problems)} frame problem(s) in total, "
            f"listed in {manifest})"
        )


@app.command("coco-keep")
def coco_keep(
    coco_json: Path = typer.Argument(..., help="COCO annotation file (e.g. instances_train2017.json)."),
    target: str = typer.Option(..., "--target", help=f"Video dataset: {'|'.join(COCO_KEEP_TARGETS)}."),
    out: Path = typer.Option(..., "--out", help="Output COCO annotation file."),
) -> None:
    """Keep the COCO annotations of the target's categories, remapped to the target's ids."""
    from instanceformer.dataprep import reports

    if target not in COCO_KEEP_TARGETS:
        raise UserError(f"--target: expected one of {', '.join(COCO_KEEP_TARGETS)}, got {target!r}")
    console = Console()
    with console.status(f"reading {coco_json}"):
        coco = load_coco_annotations(coco_json)
    result = keep_coco_for_target(coco, target, str(coco_json))
    write_coco_annotations(result.dataset, out)
    console.print(reports.coco_keep_table(result, target, out))


@app.command("split")
def split(
    annotations: Path = typer.Argument(..., help="Training annotation file with ground truth."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Fraction of the videos held out."),
    seed: int = typer.Option(0, "--seed", help="Random seed; equal inputs give equal splits."),
    out_dir: Path = typer.Option(..., "--out-dir", help="Folder for instances_{train,val}_sub.json."),
) -> None:
    """Split a training file by video into instances_train_sub.json and instances_val_sub.json."""
    from instanceformer.dataprep import reports
    from instanceformer.dataprep.split import split_videos

    console = Console()
    with console.status(f"reading {annotations}"):
        dataset = load_annotations(annotations)
    result = split_videos(dataset, val_fraction, seed, str(annotations))
    write_annotations(result.train, out_dir / "instances_train_sub.json")
    write_annotations(result.val, out_dir / "instances_val_sub.json")
    console.print(reports.split_table(result, dataset, out_dir))


@app.command("import-video")
def import_video_command(
    source: Path = typer.Argument(
        ..., metavar="INPUT", help="Video file (mp4, avi, ...) or folder of frames."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Dataset folder (JPEGImages/ and annotations/instances.json)."
    ),
    every: int = typer.Option(1, "--every", help="Keep every k-th frame."),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Stop after this many frames."),
    name: str | None = typer.Option(None, "--name", help="Video name (default: the input's name)."),
    categories: str | None = typer.Option(
        None, "--categories", help="Category table to record: ytvis19|ytvis21|ytvis22|ovis."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace a video of the same name, or import into a folder that holds other files (kept).",
    ),
) -> None:
    """Turn a video or a folder of frames into an unannotated YouTube-VIS dataset."""
    from instanceformer.dataprep import reports
    from instanceformer.dataprep.import_video import import_video

    console = Console()
    with _progress_bar(console) as bar:
        task = bar.add_task("frames", total=None)
        summary = import_video(
            source,
            out,
            every=every,
            max_frames=max_frames,
            name=name,
            categories=categories,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            force=force,
        )
    console.print(reports.import_table(summary))


@app.command("stats")
def stats(
    annotations: Path = typer.Argument(..., help="Annotation file with ground truth."),
    out: Path = typer.Option(..., "--out", help="Folder for stats.json and the PNG plots (new or empty)."),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
) -> None:
    """Describe a dataset: categories, video lengths, object sizes, occlusion; tables and PNG plots."""
    from instanceformer.dataprep import reports
    from instanceformer.dataprep.stats import compute_stats
    from instanceformer.dataprep.stats_plots import PLOT_FILES, write_stats_plots  # loads matplotlib

    console = Console()
    with console.status(f"reading {annotations}"):
        dataset = load_annotations(annotations)
        result = compute_stats(dataset, str(annotations))
    with staged_output_folder(out, own_names=(_STATS_FILE, *PLOT_FILES), force=force) as staging:
        write_json_atomic(staging / _STATS_FILE, result.to_json(), indent=2)
        plots = write_stats_plots(result, staging)
    for table in reports.stats_tables(result):
        console.print(table)
    console.print(f"wrote {out / _STATS_FILE} and {', '.join(path.name for path in plots)}")


def main() -> None:
    """Entry point of the ``ifm-prep`` console script."""
    sys.exit(run_app(app))

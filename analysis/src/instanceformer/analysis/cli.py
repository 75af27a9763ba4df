"""Command-line interface of ``ifm-analysis``: thin commands that parse, validate and call the library.

The figure, video and dump modules (PyTorch, matplotlib, scikit-learn, imageio) are imported inside the
commands, so ``--help`` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from instanceformer.analysis.study import DEFAULT_METRICS as DEFAULT_STUDY_METRICS
from instanceformer.core.cli import create_app, deprecation_warning, renamed_option, run_app
from instanceformer.core.errors import UserError
from instanceformer.core.runtime.progress import spinner, timed_progress_bar

if TYPE_CHECKING:
    from instanceformer.analysis.embedding_plot import EmbeddingReport

app = create_app(
    "ifm-analysis",
    "instanceformer-analysis",
    "Study what a model learned: embeddings, reference points, sampling locations, videos, curves.",
)

_FRAMES_HELP = (
    "Frame root of the annotation file, the video's frame folder, or a video file (see the README's "
    "'Analysis' section for how frames are found)."
)
_GT_HELP = "Annotation file of the dataset: names the video's frames (and the category names)."
_FORCE_HELP = (
    "Write into a folder that already holds files: replaces files of the same names, keeps the rest."
)
_CATEGORIES_HELP = "Category names: an annotation file or a table (ytvis19, ytvis21, ytvis22, ovis)."
_EVERY_HELP = "With a video file as --frames: keep every K-th frame (as 'ifm-infer video --every')."


def _optional_annotations(path: Path | None):
    from instanceformer.core.formats import load_annotations

    return load_annotations(path) if path is not None else None


@app.command()
def tsne(
    embeddings: Path = typer.Argument(..., help="embeddings.pt written by 'ifm-infer ... --analysis'."),
    out: Path = typer.Option(..., "--out", help="Figure PNG; the numbers go to the same name with .json."),
    perplexity: float = typer.Option(30.0, "--perplexity", help="t-SNE perplexity (lowered for few rows)."),
    color_by: str = typer.Option("track", "--color-by", help="track, category or frame."),
    video: int | None = typer.Option(None, "--video", help="Only this video's embeddings."),
    method: str = typer.Option("tsne", "--method", help="tsne (PCA first, then t-SNE) or pca."),
    categories: str | None = typer.Option(None, "--categories", help=_CATEGORIES_HELP),
    space: str | None = typer.Option(
        None,
        "--space",
        help="Embedding space to plot: contrastive (the contrastive head's output; the default when the "
        "dump has it) or decoder (the final decoder embedding). The separation is shown for both.",
    ),
) -> None:
    """Map instance embeddings to 2-d and measure how well they separate by track."""
    from instanceformer.analysis.categories import category_names
    from instanceformer.analysis.dumps import load_dump
    from instanceformer.analysis.embedding_plot import write_embedding_figure
    from instanceformer.analysis.embedding_spaces import choose_space

    dump = load_dump(embeddings, "embeddings")
    choice = choose_space(dump, space)
    names = category_names(categories)
    console = Console()
    if choice.note is not None:
        console.print(f"note: {choice.note}")
    with spinner(f"projecting {choice.space} embeddings ({method})") as progress:
        progress.add_task("project", total=None)
        report = write_embedding_figure(
            dump,
            out,
            names=names,
            color_by=color_by,
            method=method,
            perplexity=perplexity,
            video_id=video,
            space=choice.space,
        )
    console.print(_separation_table(embeddings.name, report))
    console.print(f"-> {report.figure}, {report.sidecar}")


def _separation_table(source: str, report: EmbeddingReport) -> Table:
    """One column per embedding space of ``report``, the plotted one marked."""
    spaces = tuple(report.separations)
    measured = [report.separations[name] for name in spaces]
    table = Table(title=f"{source}: track separation per embedding space")
    table.add_column("measure")
    for name in spaces:
        table.add_column(f"{name} (plotted)" if name == report.space else name, justify="right")
    table.add_row("dimension", *(str(report.dimensions[name]) for name in spaces))
    table.add_row("rows (track x frame)", *(str(separation.num_rows) for separation in measured))
    table.add_row("tracks", *(str(separation.num_tracks) for separation in measured))
    table.add_row(
        "mean intra-track cosine distance",
        *(f"{separation.intra_track_distance:.4f}" for separation in measured),
    )
    table.add_row(
        "mean inter-track cosine distance",
        *(f"{separation.inter_track_distance:.4f}" for separation in measured),
    )
    table.add_row("separation (inter / intra)", *(f"{separation.separation:.3f}" for separation in measured))
    return table


@app.command()
def refpoints(
    reference_points: Path = typer.Argument(..., help="reference_points.pt written with --analysis."),
    frames: Path = typer.Option(..., "--frames", help=_FRAMES_HELP),
    video: int = typer.Option(..., "--video", help="The video id."),
    out: Path = typer.Option(
        ..., "--out", help="Output folder (new or empty): frame_<index>.png and paths.png."
    ),
    gt: Path | None = typer.Option(None, "--gt", help=_GT_HELP),
    results: Path | None = typer.Option(
        None, "--results", help="results.json of the same run, for the boxes (default: beside the dump)."
    ),
    min_score: float = typer.Option(0.0, "--min-score", help="Only tracks with at least this score."),
    every: int = typer.Option(1, "--every", help=_EVERY_HELP),
    categories: str | None = typer.Option(None, "--categories", help=_CATEGORIES_HELP),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
    former_annotations: Path | None = typer.Option(None, "--annotations", hidden=True),
) -> None:
    """Draw each kept track's reference points and box per frame, and every track's path over time."""
    from instanceformer.analysis.categories import category_names, names_from_dataset
    from instanceformer.analysis.dumps import load_dump
    from instanceformer.analysis.frames import locate_frames
    from instanceformer.analysis.refpoint_plot import write_reference_point_figures
    from instanceformer.core.formats import load_results
    from instanceformer.core.io import check_output_folder, staged_output_folder

    check_output_folder(out, force=force)
    dump = load_dump(reference_points, "reference_points")
    dataset = _optional_annotations(renamed_option(gt, former_annotations, "--gt", "--annotations"))
    found = results if results is not None else reference_points.parent / "results.json"
    results_path = found if results is not None or found.is_file() else None
    tracks = load_results(results_path) if results_path is not None else None
    video_frames = locate_frames(frames, video, dataset, every)
    names = category_names(categories) or names_from_dataset(dataset)
    with (
        staged_output_folder(out, own_names=(), force=force) as staging,
        timed_progress_bar("drawing reference points") as progress,
    ):
        task = progress.add_task("frames", total=None)
        written = write_reference_point_figures(
            dump,
            video_frames,
            video,
            staging,
            names=names,
            results=tracks,
            results_source=str(results_path),
            min_score=min_score,
            on_frame=lambda done, total: progress.update(task, completed=done, total=total),
        )
    Console().print(
        f"{written.num_tracks} tracks, {len(written.frame_figures)} frame figures and "
        f"{written.paths_figure.name} -> {out}"
    )


@app.command()
def sampling(
    sampling_locations: Path = typer.Argument(..., help="sampling_locations.pt written with --analysis."),
    frames: Path = typer.Option(..., "--frames", help=_FRAMES_HELP),
    video: int = typer.Option(..., "--video", help="The video id."),
    track: int = typer.Option(..., "--track", help="The track: its position in results.json (0-based)."),
    out: Path = typer.Option(..., "--out", help="Output folder (new or empty): track<T>_frame_<index>.png."),
    frame: list[int] = typer.Option([], "--frame", help="Only this frame index (repeatable)."),
    gt: Path | None = typer.Option(None, "--gt", help=_GT_HELP),
    every: int = typer.Option(1, "--every", help=_EVERY_HELP),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
    former_annotations: Path | None = typer.Option(None, "--annotations", hidden=True),
) -> None:
    """Draw a track's sampling locations per decoder layer, head and level; marker area ~ weight."""
    from instanceformer.analysis.dumps import load_dump
    from instanceformer.analysis.frames import locate_frames
    from instanceformer.analysis.sampling_plot import write_sampling_figures
    from instanceformer.core.io import check_output_folder, staged_output_folder

    check_output_folder(out, force=force)
    dump = load_dump(sampling_locations, "sampling_locations")
    dataset = _optional_annotations(renamed_option(gt, former_annotations, "--gt", "--annotations"))
    video_frames = locate_frames(frames, video, dataset, every)
    with (
        staged_output_folder(out, own_names=(), force=force) as staging,
        timed_progress_bar("drawing sampling locations") as progress,
    ):
        task = progress.add_task("frames", total=None)
        written = write_sampling_figures(
            dump,
            video_frames,
            video,
            track,
            staging,
            frame_indices=frame or None,
            on_frame=lambda done, total: progress.update(task, completed=done, total=total),
        )
    Console().print(f"{len(written.figures)} figures of track {track} -> {out}")


@app.command()
def video(
    results: Path = typer.Argument(..., help="results.json (or results.zip) of an inference run."),
    frames: Path = typer.Option(..., "--frames", help=_FRAMES_HELP),
    video_id: int = typer.Option(..., "--video", help="The video id."),
    out: Path = typer.Option(..., "--out", help="The overlay mp4."),
    gt: Path | None = typer.Option(
        None, "--gt", help="Annotation file with ground truth: drawn beside the prediction; names the frames."
    ),
    annotations: Path | None = typer.Option(None, "--annotations", hidden=True),
    gif: bool = typer.Option(False, "--gif", help="Also write the same name with .gif."),
    sheet_every: int | None = typer.Option(
        None, "--sheet-every", help="Also write <name>_sheet.png with every K-th frame."
    ),
    fps: float = typer.Option(6.0, "--fps", help="Frame rate (YouTube-VIS frames are 6 per second)."),
    min_score: float = typer.Option(0.2, "--min-score", help="Only tracks with at least this score."),
    every: int = typer.Option(1, "--every", help=_EVERY_HELP),
    categories: str | None = typer.Option(None, "--categories", help=_CATEGORIES_HELP),
) -> None:
    """Write an overlay video of one video's results: masks, track ids, classes and scores."""
    from instanceformer.analysis.categories import category_names, names_from_dataset
    from instanceformer.analysis.frames import locate_frames
    from instanceformer.analysis.overlay_video import (
        ground_truth_tracks,
        predicted_tracks,
        write_overlay_video,
    )
    from instanceformer.core.formats import load_results

    if gt is not None and annotations is not None:
        raise UserError("--gt and --annotations: give one (the ground-truth file also names the frames)")
    if annotations is not None:
        deprecation_warning(
            "--annotations", "--gt", "which also draws the ground truth beside the prediction"
        )
    predictions = load_results(results)
    if not any(result.video_id == video_id for result in predictions):
        raise UserError(f"{results}: no track of video {video_id}")
    dataset = _optional_annotations(gt if gt is not None else annotations)
    ground_truth = None
    if gt is not None:
        if dataset.annotations is None:
            raise UserError(f"{gt}: expected ground truth ('annotations'), the file has none")
        ground_truth = ground_truth_tracks(dataset.tracks_of(video_id))
    video_frames = locate_frames(frames, video_id, dataset, every)
    names = category_names(categories) or names_from_dataset(dataset)
    with timed_progress_bar("writing the overlay video") as progress:
        task = progress.add_task("frames", total=len(video_frames))
        written = write_overlay_video(
            video_frames,
            predicted_tracks(predictions, video_id, min_score),
            out,
            names=names,
            ground_truth=ground_truth,
            results_source=str(results),
            gt_source=str(gt),
            fps=fps,
            gif=gif,
            sheet_every=sheet_every,
            on_frame=lambda done: progress.update(task, completed=done),
        )
    extras = [str(path) for path in (written.gif, written.sheet) if path is not None]
    height, width = written.frame_size
    Console().print(
        f"{written.num_frames} frames of {width}x{height}, {written.num_tracks} tracks -> "
        + ", ".join([str(written.mp4), *extras])
    )


@app.command()
def curves(
    runs: list[Path] = typer.Argument(..., help="Run folders or metrics.jsonl files (several: overlaid)."),
    out: Path = typer.Option(..., "--out", help="Figure PNG."),
    series: list[str] = typer.Option(
        [],
        "--series",
        help="Glob of series to plot, e.g. 'loss/*' (repeatable; default: all but aux losses).",
    ),
    log_loss: bool = typer.Option(True, "--log-loss/--linear-loss", help="Logarithmic loss axis."),
) -> None:
    """Plot loss terms, learning rates and validation metrics over steps; several runs overlaid."""
    from instanceformer.analysis.curves import read_run_curves, write_curves_figure

    loaded = [read_run_curves(run) for run in runs]
    plotted = write_curves_figure(loaded, out, patterns=series, log_loss=log_loss)
    Console().print(f"{len(loaded)} run(s), {len(plotted)} series -> {out}")


@app.command()
def study(
    root: Path = typer.Argument(..., help="Study folder: <root>/<split>/<variant>/<seed>/metrics.json."),
    out: Path | None = typer.Option(
        None, "--out", help="Markdown table (default <root>/study.md); the numbers go to the same name .json."
    ),
    metrics: str = typer.Option(
        ",".join(DEFAULT_STUDY_METRICS), "--metrics", help="Comma-separated metrics.json keys to tabulate."
    ),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="Variant the others are compared with (difference of means; *: seeds separated).",
    ),
    order: str = typer.Option(
        "", "--order", help="Comma-separated variant names listed first, in this order."
    ),
) -> None:
    """Tabulate a multi-seed study: each metric's mean +- std over seeds per split and variant."""
    from instanceformer.analysis.study import collect_study, order_variants, study_rows, write_study

    metric_names = [name.strip() for name in metrics.split(",") if name.strip()]
    if not metric_names:
        raise UserError("--metrics: expected at least one metric name, e.g. AP,AssA,IDSW")
    summaries = order_variants(collect_study(root, metric_names), [n for n in order.split(",") if n])
    variants = {summary.variant for summary in summaries}
    if reference is not None and reference not in variants:
        raise UserError(
            f"--reference: no variant {reference!r} in {root} (found: {', '.join(sorted(variants))})"
        )
    destination = out if out is not None else root / "study.md"
    json_path = write_study(summaries, metric_names, reference, destination)
    table = Table(title=f"{root} (mean ± std over seeds; % except counts)")
    for column in ("split", "variant", "seeds", *metric_names):
        table.add_column(column, justify="left" if column in ("split", "variant") else "right")
    for split, variant, seeds, cells in study_rows(summaries, metric_names, reference):
        table.add_row(split, variant, seeds, *cells)
    console = Console()
    console.print(table)
    if reference is not None:
        console.print(f"(difference to {reference}; * every seed on one side of every seed of {reference})")
    console.print(f"-> {destination}, {json_path}")


def main() -> None:
    """Entry point of the ``ifm-analysis`` console script."""
    sys.exit(run_app(app))

"""The ``dataset``, ``video`` and ``merge`` commands of ``ifm-infer`` (thin: parse, validate, call).

PyTorch, the model and the metrics are imported inside the commands, so ``--help`` starts fast.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

_RUN_HELP = "Run folder: the model is rebuilt from RUN/config.yaml (--run-folder: the same, for torchrun)."
_CHECKPOINT_HELP = "Checkpoint file (default RUN/checkpoints/last.pt)."
_DEVICE_HELP = "auto, cpu or cuda[:index] (default: the run's infer.device)."
_ANALYSIS_HELP = "Also write embeddings.pt, reference_points.pt and sampling_locations.pt."
_DATASET_ANALYSIS_HELP = (
    "Also write embeddings.pt, reference_points.pt, sampling_locations.pt and, with ground truth, the "
    "per-video association report association.json."
)
_OUT_HELP = "Output folder (new or empty): results.json, results.zip, metrics.json with ground truth."
_FORCE_HELP = (
    "Write into a folder that already holds files: replaces ifm-infer's output names, keeps the rest."
)
_GT_HELP = "YouTube-VIS / OVIS annotation file of the videos (with ground truth: metrics.json too)."


def dataset_command(
    run: Path = typer.Option(..., "--run", "--run-folder", help=_RUN_HELP),
    gt: Path | None = typer.Option(None, "--gt", help=_GT_HELP),
    frames: Path = typer.Option(..., "--frames", help="Folder the file's frame names are relative to."),
    out: Path = typer.Option(..., "--out", help=_OUT_HELP),
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help=_CHECKPOINT_HELP),
    shard: str | None = typer.Option(
        None, "--shard", help="Only shard i of n (i/n); merge with 'ifm-infer merge'."
    ),
    analysis: bool = typer.Option(False, "--analysis", help=_DATASET_ANALYSIS_HELP),
    device: str | None = typer.Option(None, "--device", help=_DEVICE_HELP),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
    former_annotations: Path | None = typer.Option(None, "--annotations", hidden=True),
) -> None:
    """Infer every video of an annotation file: results.json, results.zip and, with ground truth, metrics.

    Under torchrun each process takes one shard of the videos and rank 0 writes the merged folder.
    """
    from instanceformer.core.cli import renamed_option, required_option
    from instanceformer.core.formats.association_file import ASSOCIATION_FILE
    from instanceformer.core.metrics import metrics_table
    from instanceformer.infer.association_table import print_association_report
    from instanceformer.infer.dataset_run import run_dataset
    from instanceformer.infer.sharding import parse_shard

    annotations = required_option(
        renamed_option(gt, former_annotations, "--gt", "--annotations"), "--gt", "the annotation file"
    )
    shard_spec = parse_shard(shard) if shard is not None else None
    summary = run_dataset(
        run,
        annotations,
        frames,
        out,
        checkpoint=checkpoint,
        shard=shard_spec,
        analysis=analysis,
        device=device,
        force=force,
    )
    if not summary.written:
        return
    console = Console()
    rate = summary.num_frames / max(summary.seconds, 1e-9)
    console.print(
        f"{summary.num_videos} videos, {summary.num_frames} frames, {len(summary.tracks)} tracks in "
        f"{summary.seconds:.1f} s ({rate:.2f} frames/s) -> {out}"
    )
    if summary.metrics is not None:
        console.print(metrics_table(summary.metrics, title=f"{run.name} on {annotations.name}"))
    if summary.association is not None:
        print_association_report(console, summary.association, out / ASSOCIATION_FILE)


def video_command(
    source: str = typer.Argument(
        ..., help="Video file, folder of frames, or '-' for raw RGB24 frames on stdin."
    ),
    run: Path = typer.Option(..., "--run", "--run-folder", help=_RUN_HELP),
    out: Path = typer.Option(..., "--out", help="Output folder (new or empty): results.json, overlay.mp4."),
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help=_CHECKPOINT_HELP),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Stop after this many frames."),
    every: int = typer.Option(1, "--every", help="Keep every K-th frame."),
    size: str | None = typer.Option(
        None, "--size", help="WIDTHxHEIGHT of the raw RGB24 frames read from stdin."
    ),
    fps: float | None = typer.Option(None, "--fps", help="Overlay frame rate (default: the source's / K)."),
    categories: str | None = typer.Option(
        None,
        "--categories",
        help="Class names: a table (ytvis19, ytvis21, ytvis22, ovis) or an annotation file's categories.",
    ),
    overlay: bool = typer.Option(True, "--overlay/--no-overlay", help="Write overlay.mp4."),
    analysis: bool = typer.Option(False, "--analysis", help=_ANALYSIS_HELP),
    device: str | None = typer.Option(None, "--device", help=_DEVICE_HELP),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
) -> None:
    """Track the objects of one video: results.json (video id 1) and an overlay mp4, in a single pass."""
    from instanceformer.core.engine import OnlineEngine, load_run_model
    from instanceformer.core.formats.class_index import ClassIndex
    from instanceformer.core.io import check_output_folder
    from instanceformer.infer.categories import run_categories
    from instanceformer.infer.frame_sources import open_frame_source
    from instanceformer.infer.progress import RateMeter, inference_progress
    from instanceformer.infer.video_inference import infer_video

    check_output_folder(out, force=force)
    frame_source = open_frame_source(source, every=every, max_frames=max_frames, size=size, fps=fps)
    loaded = load_run_model(run, checkpoint, device)
    class_list = run_categories(loaded.config, categories)
    class_index = ClassIndex.from_categories(class_list)
    engine = OnlineEngine(
        loaded.model,
        loaded.config.infer,
        class_index.category_ids,
        size_divisibility=loaded.config.data.size_divisibility,
        collect_analysis=analysis,
    )
    meter = RateMeter()
    with inference_progress("inferring frames") as progress:
        task = progress.add_task("frames", total=max_frames, rates="")

        def on_frame(done: int) -> None:
            meter.frames = done
            progress.update(task, completed=done, rates=f"{meter.frames_per_second():.1f} frames/s")

        summary = infer_video(
            engine,
            frame_source,
            out,
            class_names=class_index.names,
            overlay=overlay,
            on_frame=on_frame,
            force=force,
        )
    Console().print(
        f"{summary.num_frames} frames, {len(summary.result.tracks)} tracks in {summary.seconds:.1f} s "
        f"({summary.frames_per_second:.2f} frames/s) -> {out}"
    )


def merge_command(
    folders: list[Path] = typer.Argument(..., help="Output folders of the shards 0..n-1 of one dataset."),
    out: Path = typer.Option(..., "--out", help="Merged output folder (new or empty)."),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
) -> None:
    """Merge the output folders of 'ifm-infer dataset --shard i/n' runs (metrics when the file has GT)."""
    from instanceformer.core.formats.association_file import ASSOCIATION_FILE
    from instanceformer.core.metrics import metrics_table
    from instanceformer.infer.association_table import print_association_report
    from instanceformer.infer.sharding import merge_shards

    merged = merge_shards(folders, out, force=force)
    console = Console()
    console.print(f"{len(folders)} shards, {len(merged.tracks)} tracks -> {out}")
    if merged.metrics is not None:
        console.print(metrics_table(merged.metrics, title=f"{out.name} on {merged.annotations.name}"))
    if merged.association is not None:
        print_association_report(console, merged.association, out / ASSOCIATION_FILE)

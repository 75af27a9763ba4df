"""``ifm-infer dataset`` as a library call: load the run, pick the shard, infer, write the folder."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instanceformer.core.engine import LoadedModel, OnlineEngine, VideoResult, load_run_model
from instanceformer.core.engine.distributed import destroy_process_group, init_process_group
from instanceformer.core.errors import UserError
from instanceformer.core.formats import TrackResult, load_annotations
from instanceformer.core.formats.class_index import ClassIndex
from instanceformer.core.io import check_output_folder
from instanceformer.core.runtime.process import process_info
from instanceformer.infer.dataset_inference import infer_videos
from instanceformer.infer.distributed import gather_to_main, rank_device
from instanceformer.infer.outputs import inference_output_folder, order_by_dataset, write_outputs
from instanceformer.infer.progress import RateMeter, inference_progress
from instanceformer.infer.sharding import ShardSpec, write_shard_file


@dataclass(frozen=True)
class DatasetRunSummary:
    """What :func:`run_dataset` did. ``written`` is False on the ranks that do not write (torchrun);
    ``association`` is the content of ``association.json``, None when it was not written."""

    written: bool
    out_dir: Path
    tracks: tuple[TrackResult, ...]
    metrics: dict[str, Any] | None
    num_videos: int
    num_frames: int
    seconds: float
    shard: ShardSpec | None
    association: dict[str, Any] | None = None


def build_engine(loaded: LoadedModel, class_index: ClassIndex, analysis: bool) -> OnlineEngine:
    """The online engine of a loaded run for a dataset's categories."""
    return OnlineEngine(
        loaded.model,
        loaded.config.infer,
        class_index.category_ids,
        size_divisibility=loaded.config.data.size_divisibility,
        collect_analysis=analysis,
    )


def run_dataset(
    run: Path,
    annotations: Path,
    frames: Path,
    out_dir: Path,
    *,
    checkpoint: Path | None = None,
    shard: ShardSpec | None = None,
    analysis: bool = False,
    device: str | None = None,
    show_progress: bool = True,
    force: bool = False,
) -> DatasetRunSummary:
    """Infer every video of ``annotations`` (or one shard of them) and write the output folder.

    Under torchrun each rank takes the shard ``rank/world_size`` and rank 0 gathers and writes the
    whole folder; with ``shard`` the folder holds that shard and ``shard.json`` for ``ifm-infer merge``.
    Metrics are computed when the file has ground truth and the folder covers every video, and with
    ``analysis`` the per-video association report ``association.json`` too. ``out_dir``
    must be new or empty unless ``force``; it is checked before the model is loaded and filled only when
    everything is written (see :func:`~instanceformer.infer.outputs.inference_output_folder`).
    """
    check_output_folder(out_dir, force=force)
    info = process_info()
    if info.is_distributed and shard is not None:
        raise UserError("--shard: not allowed under torchrun (each rank already takes its own shard)")
    dataset = load_annotations(annotations)
    class_index = ClassIndex.from_categories(dataset.categories)
    init_process_group(info)
    try:
        loaded = load_run_model(run, checkpoint, rank_device(info, device))
        class_index.require_num_classes(loaded.config.model.num_classes, str(annotations))
        engine = build_engine(loaded, class_index, analysis)
        chosen = ShardSpec(info.rank, info.world_size) if info.is_distributed else shard
        videos = chosen.select(dataset.videos) if chosen is not None else list(dataset.videos)
        results, meter = _infer_with_progress(engine, videos, frames, show_progress and info.is_main)
        gathered = gather_to_main(info, results)
    finally:
        destroy_process_group()
    if gathered is None:
        return DatasetRunSummary(False, out_dir, (), None, len(videos), meter.frames, meter.elapsed(), chosen)
    ordered = order_by_dataset([result for part in gathered for result in part], dataset)
    with inference_output_folder(out_dir, force) as staging:
        written = write_outputs(
            staging,
            ordered,
            dataset,
            evaluate=shard is None,
            association=analysis,
            source=str(out_dir / "results.json"),
        )
        if shard is not None:
            write_shard_file(staging, shard, annotations, dataset, analysis)
    num_frames = sum(result.num_frames for result in ordered)
    return DatasetRunSummary(
        True,
        out_dir,
        written.tracks,
        written.metrics,
        len(ordered),
        num_frames,
        meter.elapsed(),
        shard,
        written.association,
    )


def _infer_with_progress(
    engine: OnlineEngine, videos: list, frames: Path, show_progress: bool
) -> tuple[list[VideoResult], RateMeter]:
    meter = RateMeter()
    total_frames = sum(len(video.file_names) for video in videos)
    progress = inference_progress("inferring videos") if show_progress else None
    with progress if progress is not None else nullcontext():
        task = progress.add_task("videos", total=total_frames, rates="") if progress is not None else None

        def on_frame() -> None:
            meter.frames += 1
            if progress is not None and task is not None:
                progress.update(task, advance=1, rates=meter.text())

        def on_video(_: VideoResult) -> None:
            meter.videos += 1

        results = infer_videos(engine, videos, frames, on_frame=on_frame, on_video=on_video)
    return results, meter

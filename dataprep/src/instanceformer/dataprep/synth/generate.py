"""Write a synthetic VIS dataset: JPEG frames and YouTube-VIS/OVIS-format ground truth for two splits.

Layout under the output folder::

    train/JPEGImages/<video>/<frame:05d>.jpg      valid/JPEGImages/<video>/<frame:05d>.jpg
    annotations/instances_train.json              annotations/instances_valid.json

Every video draws from its own random stream, seeded by ``(seed, split, video index)``, so the two
splits never share a stream and equal arguments give byte-identical files, whatever the number of
worker processes. The dataset is written in a staging folder beside the output folder and moved in when
complete, so a failed or interrupted run leaves no partial dataset behind.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from instanceformer.core.errors import UserError
from instanceformer.core.io import staged_output_folder, write_bytes_atomic, write_json_atomic
from instanceformer.dataprep.synth.annotations import TrackAnnotation, category_records, video_record
from instanceformer.dataprep.synth.render import JPEG_QUALITY, encode_jpeg, render_frame
from instanceformer.dataprep.synth.scenarios import sample_video_scene, scenario_info
from instanceformer.dataprep.synth.spec import SynthSpec

SPLITS = ("train", "valid")
OUTPUT_NAMES = (*SPLITS, "annotations")
_SPLIT_STREAM_TAGS = {"train": 1, "valid": 2}
FORMAT_VERSION = 1

ProgressCallback = Callable[[str, int, int], None]
"""Called after each video with ``(split, videos done over both splits, total videos)``."""


@dataclass(frozen=True)
class SplitSummary:
    """What was written for one split."""

    split: str
    num_videos: int
    num_frames: int  # frames over all videos of the split
    num_instances: int  # annotation records (tracks)
    annotation_file: Path
    frame_root: Path
    num_bytes: int  # bytes of the split's JPEG frames and annotation file


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate_synthetic_dataset` wrote."""

    out_dir: Path
    splits: tuple[SplitSummary, ...]

    @property
    def num_bytes(self) -> int:
        """Bytes written over all splits."""
        return sum(split.num_bytes for split in self.splits)


def video_rng(seed: int, split: str, video_index: int) -> np.random.Generator:
    """The random stream of video ``video_index`` of ``split`` for dataset seed ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_STREAM_TAGS[split], video_index]))


def video_name(split: str, video_index: int) -> str:
    """The folder name of a video, e.g. ``train_0007``."""
    return f"{split}_{video_index:04d}"


def generate_synthetic_dataset(
    out_dir: str | Path,
    spec: SynthSpec,
    progress: ProgressCallback | None = None,
    workers: int = 1,
    force: bool = False,
) -> SynthSummary:
    """Generate the train and valid splits described by ``spec`` under ``out_dir``.

    ``out_dir`` must be new or empty unless ``force``; with ``force`` its ``train/``, ``valid/`` and
    ``annotations/`` are replaced and other entries are kept. Nothing appears in ``out_dir`` until the
    whole dataset is written.

    Args:
        out_dir: the dataset folder (created if missing).
        spec: sizes, frame size, categories and seed.
        progress: optional callback, see :data:`ProgressCallback`.
        workers: processes rendering videos in parallel (1 renders in this process); the files do not
            depend on it.
        force: write into a folder that already holds files.

    Returns:
        A :class:`SynthSummary` with per-split counts and sizes.
    """
    out_dir = Path(out_dir)
    if workers < 1:
        raise UserError(f"--workers: expected a positive integer, got {workers}")
    with staged_output_folder(out_dir, own_names=OUTPUT_NAMES, force=force) as staging:
        pool = (
            ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts) if workers > 1 else None
        )
        try:
            staged = _generate(staging, spec, progress, pool)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    splits = tuple(
        replace(
            split,
            annotation_file=out_dir / split.annotation_file.relative_to(staging),
            frame_root=out_dir / split.frame_root.relative_to(staging),
        )
        for split in staged.splits
    )
    return SynthSummary(out_dir=out_dir, splits=splits)


def _ignore_interrupts() -> None:
    """Leave Ctrl-C to the main process, which stops the pool and removes the staging folder."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _generate(
    out_dir: Path, spec: SynthSpec, progress: ProgressCallback | None, pool: ProcessPoolExecutor | None
) -> SynthSummary:
    """Write both splits, rendering the videos in ``pool`` when given (results kept in video order)."""
    counts = {"train": spec.train_videos, "valid": spec.valid_videos}
    total_videos = sum(counts.values())
    done = 0
    summaries = []
    for split in SPLITS:
        frame_root = out_dir / split / "JPEGImages"
        videos: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        num_bytes = 0
        for video_index, (records, written) in enumerate(
            _written_videos(pool, frame_root, split, counts[split], spec)
        ):
            video_id = video_index + 1
            videos.append(
                video_record(
                    video_id, video_name(split, video_index), spec.height, spec.width, spec.num_frames
                )
            )
            for record in records:
                annotations.append({**record, "id": len(annotations) + 1})
            num_bytes += written
            done += 1
            if progress is not None:
                progress(split, done, total_videos)
        annotation_file = out_dir / "annotations" / f"instances_{split}.json"
        write_json_atomic(annotation_file, _document(split, spec, videos, annotations))
        num_bytes += annotation_file.stat().st_size
        summaries.append(
            SplitSummary(
                split=split,
                num_videos=len(videos),
                num_frames=len(videos) * spec.num_frames,
                num_instances=len(annotations),
                annotation_file=annotation_file,
                frame_root=frame_root,
                num_bytes=num_bytes,
            )
        )
    return SynthSummary(out_dir=out_dir, splits=tuple(summaries))


def _written_videos(
    pool: ProcessPoolExecutor | None, frame_root: Path, split: str, num_videos: int, spec: SynthSpec
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """Write the split's videos in order, in ``pool`` or here; yield each one's records and bytes."""
    indices = range(num_videos)
    arguments = ([frame_root] * num_videos, [split] * num_videos, indices, [i + 1 for i in indices])
    if pool is None:
        return map(_write_video, *arguments, [spec] * num_videos)
    return pool.map(_write_video, *arguments, [spec] * num_videos, chunksize=4)


def _write_video(
    frame_root: Path, split: str, video_index: int, video_id: int, spec: SynthSpec
) -> tuple[list[dict[str, Any]], int]:
    """Render and write one video's frames; return its annotation records (ids 0) and the bytes written."""
    scene = sample_video_scene(video_rng(spec.seed, split, video_index), spec)
    tracks = [TrackAnnotation(obj.category_id, spec.height, spec.width) for obj in scene.objects]
    folder = frame_root / video_name(split, video_index)
    written = 0
    for frame_index in range(spec.num_frames):
        frame = render_frame(scene, frame_index)
        jpeg = encode_jpeg(frame.image)
        write_bytes_atomic(folder / f"{frame_index:05d}.jpg", jpeg)
        written += len(jpeg)
        for track, full_mask, visible_mask in zip(tracks, frame.full_masks, frame.visible_masks, strict=True):
            track.add_frame(full_mask, visible_mask)
    records = [track.record(0, video_id) for track in tracks if track.is_visible]
    return records, written


def _document(
    split: str, spec: SynthSpec, videos: list[dict[str, Any]], annotations: list[dict[str, Any]]
) -> dict[str, Any]:
    """The annotation file's top-level object."""
    return {
        "info": {
            "description": "InstanceFormer toolkit synthetic video instance segmentation dataset",
            "split": split,
            "format_version": FORMAT_VERSION,
            "seed": spec.seed,
            "num_categories": spec.num_categories,
            "frame_size": [spec.height, spec.width],
            "jpeg_quality": JPEG_QUALITY,
            **scenario_info(spec),
        },
        "licenses": [],
        "videos": videos,
        "annotations": annotations,
        "categories": category_records(spec.category_names),
    }

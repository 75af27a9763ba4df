"""``ifm-prep check``: validate an annotation file and its frames, and record the result in manifest.json.

The annotation file is validated by :mod:`instanceformer.core.formats` (YouTube-VIS / OVIS) or
:mod:`instanceformer.core.formats.coco` (COCO); a malformed file stops the check with a
FormatError. Then frames are checked against their declared size: all of them, each decoded in full
(``sample=None``, ``--full``: finds truncated and corrupt files), or the headers of the first and last
frame of every video plus ``sample`` random frames (images for COCO). Frame problems are collected; the
manifest entry records them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from instanceformer.core.formats import VideoDataset, parse_annotations
from instanceformer.core.formats.coco import CocoImageDataset, is_coco_payload, parse_coco_annotations
from instanceformer.core.formats.jsonfile import read_json_file
from instanceformer.core.formats.manifest import file_sha256, write_manifest_entry
from instanceformer.dataprep import __version__
from instanceformer.dataprep.frame_check import FrameProblem, FrameRef, check_frame
from instanceformer.dataprep.kinds import check_kind_categories, detect_kind

ProgressCallback = Callable[[int, int], None]
"""Called with ``(frames checked, frames to check)``."""

MAX_LISTED_PROBLEMS = 1000
_SPLIT_PREFIXES = ("instances_", "annotations_")


@dataclass
class CheckReport:
    """What ``check`` found about one annotation file and its frames."""

    annotations: Path
    frames_root: Path
    kind: str
    split: str
    has_ground_truth: bool
    counts: dict[str, int]
    categories: list[dict[str, Any]]
    sha256: str
    mode: str  # "full" or "sample"
    frames_total: int
    frames_checked: int = 0
    problems: list[FrameProblem] = field(default_factory=list)

    def manifest_entry(self) -> dict[str, Any]:
        """The entry of this file in ``manifest.json``."""
        return {
            "kind": self.kind,
            "split": self.split,
            "has_ground_truth": self.has_ground_truth,
            "counts": self.counts,
            "categories": self.categories,
            "frame_root": str(self.frames_root.resolve()),
            "sha256": self.sha256,
            "frame_check": {"mode": self.mode, "checked": self.frames_checked, "total": self.frames_total},
            "num_problems": len(self.problems),
            "problems": [problem.to_json() for problem in self.problems[:MAX_LISTED_PROBLEMS]],
            "checked_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "checked_by": f"ifm-prep {__version__}",
        }


def split_name(annotations: Path) -> str:
    """The split named by an annotation file: ``instances_train_sub.json`` -> ``train_sub``."""
    stem = annotations.stem
    for prefix in _SPLIT_PREFIXES:
        if stem.startswith(prefix) and len(stem) > len(prefix):
            return stem[len(prefix) :]
    return stem


def _video_frames(dataset: VideoDataset, frames_root: Path) -> tuple[list[FrameRef], list[int]]:
    """All frames of a video dataset, and the positions of each video's first and last frame."""
    frames: list[FrameRef] = []
    ends: list[int] = []
    for index, video in enumerate(dataset.videos):
        record = f"videos[{index}] (id {video.id})"
        start = len(frames)
        for position, name in enumerate(video.file_names):
            frames.append(
                FrameRef(frames_root / name, record, f"file_names[{position}]", video.height, video.width)
            )
        ends.extend({start, len(frames) - 1})
    return frames, ends


def _image_frames(dataset: CocoImageDataset, frames_root: Path) -> list[FrameRef]:
    """The images of a COCO dataset as frames."""
    return [
        FrameRef(
            frames_root / image.file_name,
            f"images[{index}] (id {image.id})",
            "file_name",
            image.height,
            image.width,
        )
        for index, image in enumerate(dataset.images)
    ]


def _selection(num_frames: int, always: list[int], sample: int | None, seed: int) -> list[int]:
    """Positions to check: all when ``sample`` is None, else ``always`` plus ``sample`` random others."""
    if sample is None:
        return list(range(num_frames))
    chosen = set(always)
    others = np.setdiff1d(np.arange(num_frames), np.fromiter(chosen, dtype=np.int64, count=len(chosen)))
    count = min(sample, others.size)
    chosen.update(np.random.default_rng(seed).choice(others, size=count, replace=False).tolist())
    return sorted(chosen)


def check_dataset(
    annotations: str | Path,
    frames_root: str | Path,
    *,
    kind: str | None = None,
    split: str | None = None,
    sample: int | None = 1000,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> CheckReport:
    """Validate ``annotations`` and check its frames under ``frames_root``.

    Args:
        annotations: a YouTube-VIS / OVIS / synthetic annotation file or a COCO image file.
        frames_root: the folder the file's frame names are relative to.
        kind: one of :data:`~instanceformer.dataprep.kinds.DATASET_KINDS`; detected when None.
        split: the split name for the manifest; from the file name when None.
        sample: check the headers of the first and last frame of every video plus this many random
            frames; None decodes every frame.
        seed: the random seed of the sample.
        progress: optional callback, see :data:`ProgressCallback`.

    Raises:
        FormatError: the annotation file is malformed or its categories are not those of ``kind``.
        FileNotFoundError: the annotation file does not exist.
    """
    annotations, frames_root = Path(annotations), Path(frames_root)
    payload = read_json_file(annotations)
    source = str(annotations)
    is_coco = kind == "coco" if kind is not None else is_coco_payload(payload)
    dataset: CocoImageDataset | VideoDataset
    always: list[int]
    if is_coco:
        dataset = parse_coco_annotations(payload, source)
        frames, always = _image_frames(dataset, frames_root), []
        counts = {
            "images": len(dataset.images),
            "annotations": len(dataset.annotations),
            "crowd_annotations": sum(annotation.iscrowd for annotation in dataset.annotations),
            "categories": len(dataset.categories),
        }
        has_ground_truth = True
    else:
        dataset = parse_annotations(payload, source)
        frames, always = _video_frames(dataset, frames_root)
        tracks = dataset.annotations or ()
        counts = {
            "videos": len(dataset.videos),
            "frames": len(frames),
            "tracks": len(tracks),
            "crowd_tracks": sum(track.iscrowd for track in tracks),
            "masks": sum(len(track.present_frames) for track in tracks),
            "categories": len(dataset.categories),
        }
        has_ground_truth = dataset.has_ground_truth
    kind = kind or detect_kind(payload, dataset.categories)
    check_kind_categories(kind, dataset.categories, source)
    selected = _selection(len(frames), always, sample, seed)
    report = CheckReport(
        annotations=annotations,
        frames_root=frames_root,
        kind=kind,
        split=split or split_name(annotations),
        has_ground_truth=has_ground_truth,
        counts=counts,
        categories=[{"id": category.id, "name": category.name} for category in dataset.categories],
        sha256=file_sha256(annotations),
        mode="full" if sample is None else "sample",
        frames_total=len(frames),
    )
    for done, position in enumerate(selected, 1):
        problem = check_frame(frames[position], decode=sample is None)
        if problem is not None:
            report.problems.append(problem)
        report.frames_checked = done
        if progress is not None:
            progress(done, len(selected))
    return report


def write_check_manifest(report: CheckReport) -> Path:
    """Write the report's entry into ``manifest.json`` beside the annotation file (atomically)."""
    return write_manifest_entry(report.annotations, report.manifest_entry())

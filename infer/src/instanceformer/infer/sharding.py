"""Independent shard jobs (``--shard i/n``) and ``ifm-infer merge``.

Shard ``i`` of ``n`` takes the videos at positions ``i, i + n, i + 2n, ...`` of the annotation file. A
shard's output folder holds its ``results.json`` / ``results.zip`` (and analysis dumps) plus
``shard.json``: ``{"format_version", "shard", "num_shards", "annotations", "video_ids", "analysis"}``
with ``video_ids`` every video id of the file in order. Merging puts the tracks back in the file's
video order, so merged shards equal an unsharded run byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from instanceformer.core.engine import load_analysis, merge_analysis_payloads
from instanceformer.core.engine.torch_io import save_torch_atomic
from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import (
    TrackResult,
    VideoDataset,
    load_annotations,
    load_results,
    write_results_json,
    write_results_zip,
)
from instanceformer.core.formats.analysis_dumps import ANALYSIS_FILES
from instanceformer.core.formats.jsonfile import parse_json_bytes
from instanceformer.core.io import check_output_folder, write_json_atomic
from instanceformer.infer.outputs import (
    RESULTS_JSON,
    RESULTS_ZIP,
    SHARD_FILE,
    has_ground_truth,
    inference_output_folder,
    write_evaluation,
)

SHARD_FORMAT_VERSION = 1
_SHARD_PATTERN = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def select(self, items: Sequence) -> list:
        """The items at positions ``index, index + count, ...``."""
        return list(items[self.index :: self.count])


def parse_shard(text: str) -> ShardSpec:
    """``'i/n'`` with ``0 <= i < n`` -> :class:`ShardSpec` (UserError naming ``--shard`` otherwise)."""
    match = _SHARD_PATTERN.match(text.strip())
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise UserError(f"--shard: expected i/n with 0 <= i < n (e.g. 0/4), got {text!r}")
    return ShardSpec(int(match.group(1)), int(match.group(2)))


def write_shard_file(
    out_dir: Path, shard: ShardSpec, annotations: Path, dataset: VideoDataset, analysis: bool
) -> Path:
    """Write ``shard.json`` describing a shard's output folder."""
    record = {
        "format_version": SHARD_FORMAT_VERSION,
        "shard": shard.index,
        "num_shards": shard.count,
        "annotations": str(annotations.resolve()),
        "video_ids": [video.id for video in dataset.videos],
        "analysis": analysis,
    }
    return write_json_atomic(out_dir / SHARD_FILE, record, indent=2)


def _read_shard_file(folder: Path) -> dict[str, Any]:
    path = folder / SHARD_FILE
    if not path.is_file():
        raise UserError(
            f"{path}: no such file; expected the output folder of an 'ifm-infer dataset --shard' run"
        )
    record = parse_json_bytes(path.read_bytes(), str(path))
    if not isinstance(record, dict) or record.get("format_version") != SHARD_FORMAT_VERSION:
        raise FormatError(path, None, "format_version", f"expected {SHARD_FORMAT_VERSION}")
    for key, kind in (("shard", int), ("num_shards", int), ("annotations", str), ("video_ids", list)):
        if not isinstance(record.get(key), kind):
            raise FormatError(path, None, key, f"expected a {kind.__name__}")
    return record


@dataclass(frozen=True)
class MergedOutputs:
    """What :func:`merge_shards` wrote; ``metrics`` is None without ground truth, ``association`` (the
    content of ``association.json``) is None without ground truth or when the shards were not
    ``--analysis`` runs."""

    tracks: tuple[TrackResult, ...]
    metrics: dict[str, Any] | None
    annotations: Path
    association: dict[str, Any] | None = None


def merge_shards(
    folders: Sequence[str | Path], out_dir: str | Path, *, evaluate: bool = True, force: bool = False
) -> MergedOutputs:
    """Merge the output folders of shards ``0..n-1`` of one dataset into ``out_dir``.

    ``out_dir`` must be new or empty unless ``force`` (see
    :func:`~instanceformer.infer.outputs.inference_output_folder`). With ground truth ``metrics.json``
    is written and, when every shard was an ``--analysis`` run, the analysis dumps and
    ``association.json``, as an unsharded run writes them.

    Raises:
        UserError: a missing or repeated shard, shards of different runs, or unreadable files.
    """
    check_output_folder(out_dir, force=force)
    shard_dirs = [Path(folder) for folder in folders]
    records = [_read_shard_file(folder) for folder in shard_dirs]
    first = records[0]
    for folder, record in zip(shard_dirs, records, strict=True):
        for key in ("num_shards", "video_ids", "annotations"):
            if record[key] != first[key]:
                raise UserError(
                    f"{folder / SHARD_FILE}: field '{key}' differs from {shard_dirs[0] / SHARD_FILE}"
                )
    count = first["num_shards"]
    found = sorted(record["shard"] for record in records)
    if found != list(range(count)):
        raise UserError(f"merge: expected shards 0..{count - 1} once each, got {found}")
    position = {video_id: index for index, video_id in enumerate(first["video_ids"])}
    shard_tracks = [load_results(folder / RESULTS_JSON) for folder in shard_dirs]
    entries = []
    for shard_number, tracks in enumerate(shard_tracks):
        for track_number, track in enumerate(tracks):
            if track.video_id not in position:
                raise FormatError(
                    shard_dirs[shard_number] / RESULTS_JSON,
                    f"[{track_number}]",
                    "video_id",
                    "a video of the file",
                )
            entries.append((position[track.video_id], shard_number, track_number))
    entries.sort()
    merged = tuple(shard_tracks[shard][number] for _, shard, number in entries)
    out_dir = Path(out_dir)
    annotations = Path(first["annotations"])
    analysis = all(record.get("analysis") for record in records)
    metrics, association = None, None
    with inference_output_folder(out_dir, force) as staging:
        write_results_json(merged, staging / RESULTS_JSON)
        write_results_zip(merged, staging / RESULTS_ZIP)
        if analysis:
            _merge_analysis(shard_dirs, shard_tracks, entries, staging)
        if evaluate and annotations.is_file():
            dataset = load_annotations(annotations)
            if has_ground_truth(dataset):
                metrics, association = write_evaluation(
                    staging, merged, dataset, association=analysis, source=str(out_dir / RESULTS_JSON)
                )
    return MergedOutputs(merged, metrics, annotations, association)


def _merge_analysis(
    folders: Sequence[Path],
    shard_tracks: Sequence[Sequence[TrackResult]],
    entries: Sequence[tuple[int, int, int]],
    out_dir: Path,
) -> None:
    track_id_maps = [torch.zeros(len(tracks), dtype=torch.long) for tracks in shard_tracks]
    for merged_id, (_, shard, number) in enumerate(entries):
        track_id_maps[shard][number] = merged_id
    for file_name in ANALYSIS_FILES.values():
        payloads = [load_analysis(folder / file_name) for folder in folders]
        save_torch_atomic(out_dir / file_name, merge_analysis_payloads(payloads, track_id_maps))

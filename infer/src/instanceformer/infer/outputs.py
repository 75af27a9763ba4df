"""Writing an inference output folder: results.json, results.zip, metrics.json, analysis dumps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instanceformer.core.engine import VideoResult, write_analysis
from instanceformer.core.formats import TrackResult, VideoDataset, write_results_json, write_results_zip
from instanceformer.core.io import write_json_atomic
from instanceformer.core.metrics import evaluate_results

RESULTS_JSON = "results.json"
RESULTS_ZIP = "results.zip"
METRICS_JSON = "metrics.json"


@dataclass(frozen=True)
class WrittenOutputs:
    """What :func:`write_outputs` wrote; ``metrics`` is None without ground truth."""

    out_dir: Path
    tracks: tuple[TrackResult, ...]
    metrics: dict[str, Any] | None


def order_by_dataset(results: Sequence[VideoResult], dataset: VideoDataset) -> list[VideoResult]:
    """The results in the order of the annotation file's videos."""
    position = {video.id: index for index, video in enumerate(dataset.videos)}
    return sorted(results, key=lambda result: position[result.video_id])


def write_outputs(
    out_dir: str | Path,
    results: Sequence[VideoResult],
    dataset: VideoDataset | None,
    *,
    evaluate: bool,
    source: str = "results",
) -> WrittenOutputs:
    """Write the output folder for ``results`` (already in the file's video order).

    ``results.json`` and ``results.zip`` always; the analysis dumps when the results carry analysis
    rows; ``metrics.json`` when ``evaluate`` and ``dataset`` has ground truth.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tracks = tuple(track for result in results for track in result.tracks)
    write_results_json(tracks, out_dir / RESULTS_JSON)
    write_results_zip(tracks, out_dir / RESULTS_ZIP)
    if results and all(result.analysis is not None for result in results):
        offsets, total = [], 0
        for result in results:
            offsets.append(total)
            total += len(result.tracks)
        write_analysis(out_dir, [result.analysis for result in results], offsets)
    metrics = None
    if evaluate and has_ground_truth(dataset):
        metrics = evaluate_results(list(tracks), dataset, source=source)
        write_json_atomic(out_dir / METRICS_JSON, metrics, indent=2)
    return WrittenOutputs(out_dir, tracks, metrics)


def has_ground_truth(dataset: VideoDataset | None) -> bool:
    """True when ``dataset`` carries at least one ground-truth track (an empty list is no ground truth)."""
    return dataset is not None and bool(dataset.annotations)

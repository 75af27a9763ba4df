"""Writing an inference output folder: results.json, results.zip, metrics.json, analysis dumps,
association.json.

Every command of ``ifm-infer`` that writes a folder writes it through :func:`inference_output_folder`:
a new or empty folder (or any folder with ``--force``, where only the names of :data:`OUTPUT_NAMES` are
replaced), filled in a staging folder and moved in when complete.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from instanceformer.core.engine import VideoResult, write_analysis
from instanceformer.core.formats import TrackResult, VideoDataset, write_results_json, write_results_zip
from instanceformer.core.formats.analysis_dumps import ANALYSIS_FILES
from instanceformer.core.formats.association_file import ASSOCIATION_FILE
from instanceformer.core.io import staged_output_folder, write_json_atomic
from instanceformer.core.metrics import association_document, evaluate_results, prepare_ground_truth

RESULTS_JSON = "results.json"
RESULTS_ZIP = "results.zip"
METRICS_JSON = "metrics.json"
SHARD_FILE = "shard.json"
OVERLAY_FILE = "overlay.mp4"
OUTPUT_NAMES = (
    RESULTS_JSON,
    RESULTS_ZIP,
    METRICS_JSON,
    SHARD_FILE,
    OVERLAY_FILE,
    *ANALYSIS_FILES.values(),
    ASSOCIATION_FILE,
)
"""Every name an ``ifm-infer`` command writes into its output folder."""


@contextlib.contextmanager
def inference_output_folder(out_dir: str | Path, force: bool) -> Iterator[Path]:
    """A staging folder for ``out_dir``, moved in when the block ends normally (see
    :func:`~instanceformer.core.io.staged_output_folder`); ``force`` takes a folder that holds files."""
    with staged_output_folder(out_dir, own_names=OUTPUT_NAMES, force=force) as staging:
        yield staging


@dataclass(frozen=True)
class WrittenOutputs:
    """What :func:`write_outputs` wrote; ``metrics`` is None without ground truth, ``association`` (the
    content of ``association.json``) is None without ground truth or when not requested."""

    out_dir: Path
    tracks: tuple[TrackResult, ...]
    metrics: dict[str, Any] | None
    association: dict[str, Any] | None = None


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
    association: bool = False,
    source: str = "results",
) -> WrittenOutputs:
    """Write the output folder for ``results`` (already in the file's video order).

    ``results.json`` and ``results.zip`` always; the analysis dumps when the results carry analysis
    rows; ``metrics.json`` when ``evaluate`` and ``dataset`` has ground truth, and ``association.json``
    (:func:`write_evaluation`) when ``association`` too.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tracks = tuple(track for result in results for track in result.tracks)
    write_results_json(tracks, out_dir / RESULTS_JSON)
    write_results_zip(tracks, out_dir / RESULTS_ZIP)
    analyses = [result.analysis for result in results if result.analysis is not None]
    if results and len(analyses) == len(results):
        offsets, total = [], 0
        for result in results:
            offsets.append(total)
            total += len(result.tracks)
        write_analysis(out_dir, analyses, offsets)
    metrics, report = None, None
    if evaluate and has_ground_truth(dataset):
        metrics, report = write_evaluation(out_dir, tracks, dataset, association=association, source=source)
    return WrittenOutputs(out_dir, tracks, metrics, report)


def write_evaluation(
    out_dir: Path, tracks: Sequence[TrackResult], dataset: VideoDataset, *, association: bool, source: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Evaluate ``tracks`` against ``dataset`` (with ground truth) and write ``metrics.json`` and, when
    ``association``, ``association.json``; return their contents (the second None when not written)."""
    ground_truth = prepare_ground_truth(dataset)
    metrics = evaluate_results(list(tracks), ground_truth, source=source)
    write_json_atomic(out_dir / METRICS_JSON, metrics, indent=2)
    if not association:
        return metrics, None
    report = association_document(list(tracks), ground_truth, source=source)
    write_json_atomic(out_dir / ASSOCIATION_FILE, report, indent=2)
    return metrics, report


def has_ground_truth(dataset: VideoDataset | None) -> TypeGuard[VideoDataset]:
    """True when ``dataset`` carries at least one ground-truth track (an empty list is no ground truth)."""
    return dataset is not None and bool(dataset.annotations)

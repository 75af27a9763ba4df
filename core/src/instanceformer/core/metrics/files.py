"""Evaluating a results file against an annotation file, the whole of ``ifm-infer evaluate``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from instanceformer.core.errors import UserError
from instanceformer.core.formats import (
    TrackResult,
    VideoDataset,
    check_results_against,
    load_annotations,
    load_results,
)
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.metrics.association_report import association_document
from instanceformer.core.metrics.evaluator import evaluate_results
from instanceformer.core.metrics.ground_truth import prepare_ground_truth
from instanceformer.core.metrics.metric_sets import DEFAULT_METRIC_SETS, select_metric_sets

_ASSOCIATION_SETS = frozenset({"hota", "identity"})


@paused_garbage_collection()
def evaluate_files(
    results_path: str | Path,
    annotation_path: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    metrics: str | Sequence[str] = DEFAULT_METRIC_SETS,
) -> dict[str, float]:
    """The summary metrics (fractions, -1 where undefined, and counts) of a results file against ground
    truth.

    ``results_path`` is ``results.json`` or its server zip, ``annotation_path`` a YouTube-VIS / OVIS
    annotation file with ground truth; ``metrics`` selects the metric sets and ``progress(videos_done,
    num_videos)`` is called after each video, as in :func:`evaluate_results`. The garbage collector
    stays paused from loading to the metrics: the loaded files are hundreds of thousands of objects
    without reference cycles, freed when this function returns.

    The results are validated exactly as ``ifm-submit validate`` validates them
    (:func:`~instanceformer.core.formats.check_results_against`: known videos and categories, scores in
    [0, 1], one segmentation per frame, the video's mask size, well-formed compressed RLE).

    Raises FileNotFoundError for a missing file, FormatError for a malformed one and UserError for
    results the servers would refuse, ground truth without annotations or an unknown metric set.
    """
    selected = select_metric_sets(metrics)
    results, dataset = _load_checked(results_path, annotation_path)
    return evaluate_results(results, dataset, source=str(results_path), progress=progress, metrics=selected)


@paused_garbage_collection()
def evaluate_files_with_association(
    results_path: str | Path,
    annotation_path: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    metrics: str | Sequence[str] = DEFAULT_METRIC_SETS,
) -> tuple[dict[str, float], dict[str, Any]]:
    """:func:`evaluate_files` and the content of ``association.json``
    (:func:`~instanceformer.core.metrics.association_report.association_document`) of the same files,
    read and checked once.

    ``progress(videos_done, num_videos)`` counts the association report as one more pass over the
    videos. Raises as :func:`evaluate_files`.
    """
    selected = select_metric_sets(metrics)
    results, dataset = _load_checked(results_path, annotation_path)
    ground_truth = prepare_ground_truth(dataset)
    num_videos = len(dataset.videos)
    done_before = num_videos * (int("ap" in selected) + int(not _ASSOCIATION_SETS.isdisjoint(selected)))
    total = done_before + num_videos
    summary = evaluate_results(
        results,
        ground_truth,
        source=str(results_path),
        progress=None if progress is None else lambda done, _: progress(done, total),
        metrics=selected,
    )
    document = association_document(
        results,
        ground_truth,
        source=str(results_path),
        progress=None if progress is None else lambda done, _: progress(done_before + done, total),
    )
    return summary, document


def _load_checked(
    results_path: str | Path, annotation_path: str | Path
) -> tuple[list[TrackResult], VideoDataset]:
    """The results and the annotation file, the results checked as ``ifm-submit validate`` checks them."""
    dataset = load_annotations(annotation_path)
    results = load_results(results_path)
    problems = check_results_against(results, dataset)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise UserError(
            f"{results_path}: {problems[0]} ({count} in all, as 'ifm-submit validate' reports them; the "
            f"servers would refuse these results)"
        )
    return results, dataset

"""The YouTube-VIS / OVIS evaluator: results and ground truth in, precision/recall curves and AP out.

Per video: predictions of categories the ground truth does not list are dropped (as the servers do),
each category keeps its 100 best-scored predictions (ties keep file order), track IoUs are computed
for all pairs at once (:mod:`~instanceformer.core.metrics.track_iou`), and each (video, category) group
is matched greedily (:mod:`~instanceformer.core.metrics.matching`). The matches of all videos are then
pooled per category into COCO-style curves (:mod:`~instanceformer.core.metrics.accumulation`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from instanceformer.core.formats import TrackResult, Video, VideoDataset
from instanceformer.core.metrics.accumulation import GroupOutcome, accumulate
from instanceformer.core.metrics.ground_truth import PreparedGroundTruth, prepare_ground_truth
from instanceformer.core.metrics.matching import match_predictions
from instanceformer.core.metrics.parameters import MAX_DETECTIONS, Subset
from instanceformer.core.metrics.result_checks import check_results
from instanceformer.core.metrics.summary import Evaluation
from instanceformer.core.metrics.track_iou import track_iou_matrix
from instanceformer.core.metrics.video_tracks import TruthTracks, predicted_tracks

ProgressCallback = Callable[[int, int], None]


def _outside(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """``[num_tracks]`` bool: values outside the inclusive range (NaN counts as outside)."""
    low, high = bounds
    return ~((values >= low) & (values <= high))


def _truth_ignored(
    subsets: Sequence[Subset], areas: np.ndarray, crowd: np.ndarray, occlusion: np.ndarray
) -> np.ndarray:
    """``[num_subsets, num_truth]`` bool: crowd, or mean area / occlusion score outside the subset."""
    rows = []
    for subset in subsets:
        ignored = crowd | _outside(areas, subset.area_range)
        if subset.occlusion_range is not None:
            ignored |= _outside(occlusion, subset.occlusion_range)
        rows.append(ignored)
    return np.stack(rows) if rows else np.zeros((0, len(areas)), dtype=bool)


def _best_predictions(results: Sequence[TrackResult], category_ids: set[int]) -> list[TrackResult]:
    """Per category, the 100 best-scored results (stable for ties), grouped by category."""
    by_category: dict[int, list[TrackResult]] = defaultdict(list)
    for result in results:
        if result.category_id in category_ids:
            by_category[result.category_id].append(result)
    kept: list[TrackResult] = []
    for group in by_category.values():
        order = np.argsort([-float(result.score) for result in group], kind="stable")
        kept.extend(group[index] for index in order[: MAX_DETECTIONS[-1]])
    return kept


def _evaluate_video(
    video: Video, truth: TruthTracks, results: Sequence[TrackResult], subsets: Sequence[Subset]
) -> dict[int, GroupOutcome]:
    """The matching outcome of every category present in ``video`` (ground truth or predictions)."""
    predicted = predicted_tracks(results, video)
    # IoUs are only needed between tracks of a category that both sides have in this video.
    rows = np.flatnonzero(np.isin(predicted.category_ids, truth.category_ids))
    columns = np.flatnonzero(np.isin(truth.category_ids, predicted.category_ids))
    ious = track_iou_matrix(predicted, truth, rows, columns)  # [num_predicted, num_truth]
    ignored = _truth_ignored(subsets, truth.mean_areas, truth.crowd, truth.occlusion_scores)  # [S, num_truth]
    outside = np.stack([_outside(predicted.mean_areas, subset.area_range) for subset in subsets])  # [S, P]
    outcomes = {}
    for category_id in np.union1d(truth.category_ids, predicted.category_ids):
        rows = np.flatnonzero(predicted.category_ids == category_id)  # sorted by decreasing score
        columns = np.flatnonzero(truth.category_ids == category_id)
        matched, prediction_ignored = match_predictions(
            ious[np.ix_(rows, columns)], ignored[:, columns], truth.crowd[columns], outside[:, rows]
        )
        outcomes[int(category_id)] = GroupOutcome(
            scores=predicted.scores[rows],
            matched=matched,
            ignored=prediction_ignored,
            counted_truth=(~ignored[:, columns]).sum(axis=1),
        )
    return outcomes


def compute_evaluation(
    results: Sequence[TrackResult],
    ground_truth: VideoDataset | PreparedGroundTruth,
    *,
    source: str = "<results>",
    progress: ProgressCallback | None = None,
) -> Evaluation:
    """Evaluate predicted tracks against ground truth; return the precision/recall curves.

    Args:
        results: predicted tracks (compressed RLE masks, one entry per frame of their video).
        ground_truth: the dataset (masks in any encoding) or, to evaluate repeatedly, the result of
            :func:`prepare_ground_truth`; occlusion subsets are added when any of its tracks carries
            OVIS occlusion labels.
        source: the results' file name, used in error messages.
        progress: called as ``progress(videos_done, num_videos)`` after each video.

    Raises:
        UserError: the dataset has no annotations; FormatError: a result names an unknown video, has the
            wrong number of frames, or a mask of the wrong size or encoding.
    """
    if isinstance(ground_truth, VideoDataset):
        ground_truth = prepare_ground_truth(ground_truth)
    dataset = ground_truth.dataset
    check_results(results, dataset, source)
    category_ids = ground_truth.category_ids
    category_index = {category_id: index for index, category_id in enumerate(category_ids)}
    results_by_video: dict[int, list[TrackResult]] = defaultdict(list)
    for result in results:
        results_by_video[result.video_id].append(result)
    outcomes: list[list[GroupOutcome]] = [[] for _ in category_ids]
    videos = sorted(dataset.videos, key=lambda video: video.id)
    for done, video in enumerate(videos, 1):
        kept = _best_predictions(results_by_video.get(video.id, ()), set(category_ids))
        truth = ground_truth.tracks[video.id]
        if kept or truth.num_tracks:
            for category_id, outcome in _evaluate_video(video, truth, kept, ground_truth.subsets).items():
                outcomes[category_index[category_id]].append(outcome)
        if progress is not None:
            progress(done, len(videos))
    precision, recall = accumulate(outcomes, len(ground_truth.subsets))
    return Evaluation(
        category_ids=category_ids, subsets=ground_truth.subsets, precision=precision, recall=recall
    )


def evaluate_results(
    results: Sequence[TrackResult],
    ground_truth: VideoDataset | PreparedGroundTruth,
    *,
    source: str = "<results>",
    progress: ProgressCallback | None = None,
) -> dict[str, float]:
    """The summary metrics (AP, AP50, ..., fractions in [0, 1], -1 where undefined) of ``results``.

    See :func:`compute_evaluation` for the arguments and :class:`Evaluation.summary` for the keys.
    """
    return compute_evaluation(results, ground_truth, source=source, progress=progress).summary()


def evaluate_short_long(
    short_results: Sequence[TrackResult],
    short_dataset: VideoDataset,
    long_results: Sequence[TrackResult],
    long_dataset: VideoDataset,
) -> dict[str, dict[str, float]]:
    """YouTube-VIS 2022: evaluate the short-video and long-video sets and average them.

    Returns ``{"short": summary, "long": summary, "mean": summary}`` where each number of ``mean`` is the
    average of the two sets' numbers (-1 when either is undefined); the challenge ranks by
    ``mean["AP"]``.
    """
    short = evaluate_results(short_results, short_dataset, source="<short-video results>")
    long = evaluate_results(long_results, long_dataset, source="<long-video results>")
    mean = {
        name: (short[name] + long[name]) / 2 if short[name] > -1 and long[name] > -1 else -1.0
        for name in short
        if name in long
    }
    return {"short": short, "long": long, "mean": mean}

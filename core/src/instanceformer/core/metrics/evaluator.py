"""The YouTube-VIS / OVIS evaluator: results and ground truth in, precision/recall curves and AP out.

Per video: predictions of categories the ground truth does not list are dropped (as the servers do),
each category keeps its 100 best-scored predictions (ties keep file order), track IoUs are computed
for the pairs of tracks of the same category (:mod:`~instanceformer.core.metrics.track_iou`), and the
predictions are matched greedily, all categories in one pass since tracks of different categories
never match (:mod:`~instanceformer.core.metrics.matching`). The matches of all videos are then pooled
per category into COCO-style curves (:mod:`~instanceformer.core.metrics.accumulation`).

:func:`evaluate_results` adds, on request, the association metric sets (HOTA, identity) computed by
:mod:`~instanceformer.core.metrics.association` in a second pass over the videos.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from instanceformer.core.formats import TrackResult, Video, VideoDataset
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.metrics.accumulation import VideoMatches, accumulate
from instanceformer.core.metrics.association import associate
from instanceformer.core.metrics.association_summary import hota_summary, identity_summary
from instanceformer.core.metrics.ground_truth import PreparedGroundTruth, prepare_ground_truth
from instanceformer.core.metrics.matching import match_predictions
from instanceformer.core.metrics.metric_sets import DEFAULT_METRIC_SETS, select_metric_sets
from instanceformer.core.metrics.parameters import MATCHING_THRESHOLDS, MAX_DETECTIONS, Subset
from instanceformer.core.metrics.result_checks import check_results
from instanceformer.core.metrics.summary import Evaluation
from instanceformer.core.metrics.track_iou import track_iou_matrix, track_iou_upper_bounds
from instanceformer.core.metrics.video_tracks import TruthTracks, predicted_tracks

ProgressCallback = Callable[[int, int], None]


def _outside(values: np.ndarray, subsets: Sequence[Subset]) -> np.ndarray:
    """``[num_subsets, num_tracks]`` bool: mean areas outside each subset's inclusive range (NaN: outside)."""
    low = np.array([subset.area_range[0] for subset in subsets], dtype=np.float64)[:, None]  # [S, 1]
    high = np.array([subset.area_range[1] for subset in subsets], dtype=np.float64)[:, None]  # [S, 1]
    return ~((values[None, :] >= low) & (values[None, :] <= high))


def _truth_ignored(subsets: Sequence[Subset], tracks: Sequence[TruthTracks]) -> np.ndarray:
    """``[num_subsets, num_truth]`` bool over the tracks of all videos: crowd, or mean area / occlusion
    score outside the subset."""
    areas = np.concatenate([np.zeros(0)] + [track.mean_areas for track in tracks])  # [num_truth]
    crowd = np.concatenate([np.zeros(0, dtype=bool)] + [track.crowd for track in tracks])  # [num_truth]
    occlusion = np.concatenate([np.zeros(0)] + [track.occlusion_scores for track in tracks])  # [num_truth]
    ignored = crowd[None, :] | _outside(areas, subsets)  # [S, num_truth]
    for index, subset in enumerate(subsets):
        if subset.occlusion_range is not None:
            low, high = subset.occlusion_range
            ignored[index] |= ~((occlusion >= low) & (occlusion <= high))
    return ignored


def _counted_truth(
    ignored: np.ndarray, tracks: Sequence[TruthTracks], category_ids: Sequence[int]
) -> np.ndarray:
    """``[num_categories, num_subsets]`` int64: the ground-truth tracks of each category that count in each
    subset."""
    categories = np.concatenate([np.zeros(0, dtype=np.int64)] + [track.category_ids for track in tracks])
    category_index = np.searchsorted(np.asarray(category_ids, dtype=np.int64), categories)  # [num_truth]
    counted = np.zeros((len(category_ids), len(ignored)), dtype=np.int64)
    np.add.at(counted, category_index, (~ignored).T.astype(np.int64))
    return counted


def _best_predictions(
    results: Sequence[TrackResult], category_ids: set[int]
) -> tuple[list[TrackResult], list[int]]:
    """Per category, the 100 best-scored results (stable for ties), grouped by category, with their rank."""
    by_category: dict[int, list[TrackResult]] = defaultdict(list)
    for result in results:
        if result.category_id in category_ids:
            by_category[result.category_id].append(result)
    kept: list[TrackResult] = []
    ranks: list[int] = []
    for group in by_category.values():
        order = np.argsort([-float(result.score) for result in group], kind="stable")[: MAX_DETECTIONS[-1]]
        kept.extend(group[index] for index in order.tolist())
        ranks.extend(range(len(order)))
    return kept, ranks


def _match_video(
    video: Video,
    truth: TruthTracks,
    truth_ignored: np.ndarray,
    results: Sequence[TrackResult],
    ranks: Sequence[int],
    subsets: Sequence[Subset],
    category_ids: np.ndarray,
) -> VideoMatches:
    """Match the predictions of ``video`` (grouped by category, by decreasing score) to its ground truth.

    All categories are matched in one pass: tracks of different categories get IoU 0 and so never match.
    ``truth_ignored`` is ``[num_subsets, num_truth]``; ``category_ids`` the evaluated ids, ascending.
    """
    predicted = predicted_tracks(results, video)
    # IoUs are only needed between tracks of the same category, and only where they can reach the lowest
    # threshold; every other pair keeps IoU 0 and, like its true IoU, matches at no threshold.
    # [num_predicted, num_truth] each
    same_category = predicted.category_ids[:, None] == truth.category_ids[None, :]
    bounds = track_iou_upper_bounds(predicted, truth, same_category)
    pairs = same_category & (bounds >= np.min(MATCHING_THRESHOLDS))
    ious = track_iou_matrix(predicted, truth, pairs=pairs)  # [num_predicted, num_truth]
    matched, ignored = match_predictions(
        ious, truth_ignored, truth.crowd, _outside(predicted.mean_areas, subsets)
    )  # [S, T, num_predicted] each
    return VideoMatches(
        scores=predicted.scores,
        categories=np.searchsorted(category_ids, predicted.category_ids),
        ranks=np.asarray(ranks, dtype=np.int64),
        matched=matched,
        ignored=ignored,
    )


@paused_garbage_collection()
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
    sorted_ids = np.asarray(category_ids, dtype=np.int64)
    subsets = ground_truth.subsets
    results_by_video: dict[int, list[TrackResult]] = defaultdict(list)
    for result in results:
        results_by_video[result.video_id].append(result)
    videos = sorted(dataset.videos, key=lambda video: video.id)
    truths = [ground_truth.tracks[video.id] for video in videos]
    ignored = _truth_ignored(subsets, truths)  # [S, num_truth], tracks of all videos in video order
    first_truth = np.cumsum([0] + [truth.num_tracks for truth in truths]).tolist()
    matches: list[VideoMatches] = []
    for done, (video, truth) in enumerate(zip(videos, truths, strict=True), 1):
        kept, ranks = _best_predictions(results_by_video.get(video.id, ()), set(category_ids))
        if kept:
            video_ignored = ignored[:, first_truth[done - 1] : first_truth[done]]  # [S, num_truth]
            matches.append(_match_video(video, truth, video_ignored, kept, ranks, subsets, sorted_ids))
        if progress is not None:
            progress(done, len(videos))
    precision, recall = accumulate(matches, _counted_truth(ignored, truths, category_ids), len(subsets))
    return Evaluation(category_ids=category_ids, subsets=subsets, precision=precision, recall=recall)


def _progress_share(progress: ProgressCallback | None, first: int, total: int) -> ProgressCallback | None:
    """``progress`` for one of several passes over the videos: videos ``first + 1 ..`` of ``total``."""
    if progress is None:
        return None
    report = progress
    return lambda done, _: report(first + done, total)


@paused_garbage_collection()
def evaluate_results(
    results: Sequence[TrackResult],
    ground_truth: VideoDataset | PreparedGroundTruth,
    *,
    source: str = "<results>",
    progress: ProgressCallback | None = None,
    metrics: str | Sequence[str] = DEFAULT_METRIC_SETS,
) -> dict[str, float]:
    """The summary metrics of ``results``: fractions in [0, 1] (-1 where undefined) and integer counts.

    ``metrics`` selects the metric sets (:mod:`~instanceformer.core.metrics.metric_sets`: ``"ap"``,
    ``"hota"``, ``"identity"``; names or one comma-separated string); their numbers come in that order
    (keys: :meth:`Evaluation.summary` for AP, :mod:`~instanceformer.core.metrics.association_summary`
    for the others). With several sets, ``progress`` counts each pass over the videos, so
    ``num_videos`` is the number of videos times the number of passes. See :func:`compute_evaluation`
    for the other arguments and the errors; an unknown metric set raises UserError.
    """
    selected = select_metric_sets(metrics)
    if selected == ("ap",):
        return compute_evaluation(results, ground_truth, source=source, progress=progress).summary()
    if isinstance(ground_truth, VideoDataset):
        ground_truth = prepare_ground_truth(ground_truth)
    num_videos = len(ground_truth.dataset.videos)
    num_passes = 2 if "ap" in selected else 1
    summary: dict[str, float] = {}
    if "ap" in selected:
        evaluation = compute_evaluation(
            results,
            ground_truth,
            source=source,
            progress=_progress_share(progress, 0, num_passes * num_videos),
        )
        summary.update(evaluation.summary())
    else:
        check_results(results, ground_truth.dataset, source)
    association = associate(
        results,
        ground_truth,
        _progress_share(progress, (num_passes - 1) * num_videos, num_passes * num_videos),
    )
    if "hota" in selected:
        summary.update(hota_summary(association.per_category))
    if "identity" in selected:
        summary.update(identity_summary(association.per_category))
    return summary


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

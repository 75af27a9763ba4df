"""The association metrics of an evaluation: HOTA, identity and CLEAR continuity per category and video.

They are computed as trackeval computes them for YouTube-VIS: every (video, category) pair is a
sequence evaluated on its own (:mod:`~instanceformer.core.metrics.hota`,
:mod:`~instanceformer.core.metrics.identity`, :mod:`~instanceformer.core.metrics.clear`) with the
per-frame mask IoU as similarity (:mod:`~instanceformer.core.metrics.frame_iou`). Unlike AP, every
predicted track counts whatever its score and however many a video has; predictions of a category the
ground truth does not list are dropped; crowd ground-truth tracks count as ordinary tracks. The counts
of the sequences are summed per category over the videos; the category summary is in
:mod:`~instanceformer.core.metrics.association_summary`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from instanceformer.core.formats import TrackResult, Video, VideoDataset
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.metrics.category_blocks import CategoryBlocks
from instanceformer.core.metrics.clear import (
    ClearCounts,
    TrackCoverage,
    clear_counts,
    clear_matches,
    track_coverage,
)
from instanceformer.core.metrics.frame_iou import frame_ious, presence
from instanceformer.core.metrics.ground_truth import PreparedGroundTruth, prepare_ground_truth
from instanceformer.core.metrics.hota import HotaCounts, video_hota
from instanceformer.core.metrics.identity import IdentityCounts, video_identity
from instanceformer.core.metrics.result_checks import check_results
from instanceformer.core.metrics.video_tracks import TruthTracks

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SequenceCounts:
    """The association counts of (video, category) sequences, per category or summed.

    ``hota`` fields are ``[..., num_alphas]``, ``identity`` and ``clear`` fields ``[...]``; the leading
    axis, when there is one, is the categories.
    """

    hota: HotaCounts
    identity: IdentityCounts
    clear: ClearCounts

    def total(self) -> SequenceCounts:
        """The sum over the categories (the leading axis)."""
        return SequenceCounts(self.hota.total(), self.identity.total(), self.clear.total())


@dataclass(frozen=True)
class VideoAssociation:
    """The association results of one video.

    ``counts`` are summed over the video's categories (0-d, ``hota`` ``[num_alphas]``); ``truth_ids``
    and ``truth_categories`` name the ground-truth tracks in file order, ``coverage`` holds their
    :class:`TrackCoverage` (``[num_truth]``; all zero for a track of a category the ground truth does
    not list), and ``partners[i]`` the indices (into the evaluated results) of the predictions track ``i``
    was matched to, in the order of their first match.
    """

    video_id: int
    counts: SequenceCounts
    truth_ids: tuple[int, ...]
    truth_categories: tuple[int, ...]
    coverage: TrackCoverage
    partners: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class AssociationEvaluation:
    """Association counts per category and per video.

    ``per_category`` fields are ``[num_categories, ...]`` over ``category_ids`` (ascending, every
    category of the ground truth, present or not); ``videos`` are in video-id order.
    """

    category_ids: tuple[int, ...]
    per_category: SequenceCounts
    videos: tuple[VideoAssociation, ...]


def _zero_counts(num_categories: int) -> SequenceCounts:
    """All-zero counts of ``num_categories`` categories."""
    zeros = np.zeros(num_categories, dtype=np.int64)
    return SequenceCounts(
        HotaCounts.zeros((num_categories,)),
        IdentityCounts(zeros, zeros, zeros),
        ClearCounts(zeros, zeros, zeros, zeros, zeros),
    )


def _fields_summed_at(counts_type: type, index: np.ndarray, parts: Sequence[Any], num_categories: int) -> Any:
    """Dataclass counts ``[num_categories, ...]``: the concatenated array fields of ``parts`` summed at
    the rows ``index`` (their concatenated category indices)."""
    summed = {}
    for field in fields(counts_type):
        values = np.concatenate([getattr(part, field.name) for part in parts])  # [len(index), ...]
        totals = np.zeros((num_categories, *values.shape[1:]), dtype=values.dtype)
        np.add.at(totals, index, values)
        summed[field.name] = totals
    return counts_type(**summed)


def _category_sums(
    num_categories: int, categories: Sequence[np.ndarray], counts: Sequence[SequenceCounts]
) -> SequenceCounts:
    """The counts of every video (``counts[i]`` over the categories ``categories[i]``, indices into the
    listed categories) summed per category: ``[num_categories, ...]``."""
    index = np.concatenate([np.zeros(0, dtype=np.int64), *categories])
    everything = [*counts, _zero_counts(0)]
    return SequenceCounts(
        _fields_summed_at(HotaCounts, index, [item.hota for item in everything], num_categories),
        _fields_summed_at(IdentityCounts, index, [item.identity for item in everything], num_categories),
        _fields_summed_at(ClearCounts, index, [item.clear for item in everything], num_categories),
    )


def _first_seen(values: np.ndarray) -> tuple[int, ...]:
    """The distinct entries of ``values`` in the order they first occur."""
    _, first = np.unique(values, return_index=True)
    return tuple(values[np.sort(first)].tolist())


def associate_video(
    video: Video,
    truth: TruthTracks,
    truth_ids: Sequence[int],
    results: Sequence[TrackResult],
    result_indices: Sequence[int],
    category_ids: Sequence[int],
) -> tuple[np.ndarray, SequenceCounts, VideoAssociation]:
    """Evaluate one video: its categories, their counts, and its :class:`VideoAssociation`.

    ``truth_ids`` are the ids of the ground-truth tracks (file order, as in ``truth``); ``results`` are
    the video's predictions of listed categories in file order, ``result_indices`` their positions in
    the evaluated results; ``category_ids`` the listed categories, ascending. Returns the indices into
    ``category_ids`` of the categories with a track in the video (``[num_video_categories]``), their
    counts (``[num_video_categories, ...]``) and the video's results.
    """
    listed = np.asarray(category_ids, dtype=np.int64)
    kept = np.flatnonzero(np.isin(truth.category_ids, listed))  # [num_kept], truth of listed categories
    truth_masks = [truth.masks[row] for row in kept.tolist()]
    truth_categories = truth.category_ids[kept]  # [num_kept]
    predicted_masks = [result.segmentations for result in results]
    predicted_categories = np.array([result.category_id for result in results], dtype=np.int64)
    present_categories = np.union1d(truth_categories, predicted_categories)  # [num_video_categories]
    blocks = CategoryBlocks(
        truth=np.searchsorted(present_categories, truth_categories),
        predicted=np.searchsorted(present_categories, predicted_categories),
        num_categories=len(present_categories),
    )
    truth_present = presence(truth_masks, video.length)  # [num_kept, num_frames]
    predicted_present = presence(predicted_masks, video.length)  # [num_predicted, num_frames]
    pairs = blocks.truth[:, None] == blocks.predicted[None, :]  # [num_kept, num_predicted]
    # [num_frames, num_kept, num_predicted]
    similarity = frame_ious(truth_masks, truth_present, predicted_masks, predicted_present, pairs)
    truth_present, predicted_present = truth_present.T, predicted_present.T  # [num_frames, num_tracks]
    matches = clear_matches(similarity, truth_present, predicted_present, blocks)  # [num_frames, num_kept]
    followed = track_coverage(matches, truth_present, predicted_present, blocks)
    counts = SequenceCounts(
        video_hota(similarity, truth_present, predicted_present, blocks),
        video_identity(similarity, truth_present, predicted_present, blocks),
        clear_counts(followed, blocks),
    )
    coverage = {}
    for field in fields(followed):
        values = np.zeros(truth.num_tracks, dtype=np.int64)
        values[kept] = getattr(followed, field.name)
        coverage[field.name] = values
    indices = np.asarray(result_indices, dtype=np.int64)
    partners: list[tuple[int, ...]] = [() for _ in range(truth.num_tracks)]
    for row, track_matches in zip(kept.tolist(), matches.T, strict=True):
        partners[row] = _first_seen(indices[track_matches[track_matches >= 0]])
    association = VideoAssociation(
        video_id=video.id,
        counts=counts.total(),
        truth_ids=tuple(truth_ids),
        truth_categories=tuple(truth.category_ids.tolist()),
        coverage=TrackCoverage(**coverage),
        partners=tuple(partners),
    )
    return np.searchsorted(listed, present_categories), counts, association


def associate(
    results: Sequence[TrackResult],
    ground_truth: PreparedGroundTruth,
    progress: ProgressCallback | None = None,
) -> AssociationEvaluation:
    """The association counts of checked ``results`` (see :func:`compute_association`)."""
    category_ids = ground_truth.category_ids
    listed = set(category_ids)
    by_video: dict[int, list[int]] = defaultdict(list)
    for index, result in enumerate(results):
        if result.category_id in listed:
            by_video[result.video_id].append(index)
    video_categories, video_counts = [], []
    videos = sorted(ground_truth.dataset.videos, key=lambda video: video.id)
    associations = []
    for done, video in enumerate(videos, 1):
        indices = by_video.get(video.id, [])
        categories, counts, association = associate_video(
            video,
            ground_truth.tracks[video.id],
            [track.id for track in ground_truth.dataset.tracks_of(video.id)],
            [results[index] for index in indices],
            indices,
            category_ids,
        )
        video_categories.append(categories)
        video_counts.append(counts)
        associations.append(association)
        if progress is not None:
            progress(done, len(videos))
    return AssociationEvaluation(
        category_ids=category_ids,
        per_category=_category_sums(len(category_ids), video_categories, video_counts),
        videos=tuple(associations),
    )


@paused_garbage_collection()
def compute_association(
    results: Sequence[TrackResult],
    ground_truth: VideoDataset | PreparedGroundTruth,
    *,
    source: str = "<results>",
    progress: ProgressCallback | None = None,
) -> AssociationEvaluation:
    """Evaluate the association of predicted tracks with ground truth (HOTA, identity, CLEAR counts).

    Arguments as for :func:`~instanceformer.core.metrics.evaluator.compute_evaluation`; raises the same
    errors. Summaries come from :mod:`~instanceformer.core.metrics.association_summary`.
    """
    if isinstance(ground_truth, VideoDataset):
        ground_truth = prepare_ground_truth(ground_truth)
    check_results(results, ground_truth.dataset, source)
    return associate(results, ground_truth, progress)

"""``ifm-prep split``: a held-out validation split of a training file, with ground truth.

The split is by video (a video's tracks stay together) and stratified by each video's rarest
category: the category of its tracks that the fewest videos of the file contain (ties: the smaller id);
videos without tracks form their own stratum. The validation size is ``round(val_fraction * videos)``
(at least 1, at most all but one), shared between strata by largest remainders; inside a stratum the
videos are drawn by a seeded permutation. Equal inputs give equal outputs; both files keep the full
category list and the file's other top-level keys.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import VideoDataset

NO_TRACKS_STRATUM = -1


@dataclass(frozen=True)
class SplitResult:
    """The two parts and, per stratum (category id, or -1 for videos without tracks), the video counts."""

    train: VideoDataset
    val: VideoDataset
    strata: dict[int, tuple[int, int]]  # stratum -> (train videos, val videos)


def video_strata(dataset: VideoDataset) -> dict[int, int]:
    """Each video's stratum: its rarest category id, or :data:`NO_TRACKS_STRATUM`."""
    videos_per_category = Counter(
        category
        for video in dataset.videos
        for category in {t.category_id for t in dataset.tracks_of(video.id)}
    )
    strata = {}
    for video in dataset.videos:
        categories = {track.category_id for track in dataset.tracks_of(video.id)}
        strata[video.id] = (
            min(categories, key=lambda category: (videos_per_category[category], category))
            if categories
            else NO_TRACKS_STRATUM
        )
    return strata


def _quotas(sizes: dict[int, int], val_fraction: float, total: int) -> dict[int, int]:
    """Validation videos per stratum: floors of the exact shares, the rest by largest remainder."""
    exact = {stratum: val_fraction * size for stratum, size in sizes.items()}
    quotas = {stratum: math.floor(share) for stratum, share in exact.items()}
    by_remainder = sorted(sizes, key=lambda stratum: (-(exact[stratum] - quotas[stratum]), stratum))
    for stratum in by_remainder[: total - sum(quotas.values())]:
        quotas[stratum] += 1
    return quotas


def _subset(dataset: VideoDataset, video_ids: set[int]) -> VideoDataset:
    """The videos of ``video_ids`` (file order) with their tracks and the full category list."""
    return VideoDataset(
        videos=tuple(video for video in dataset.videos if video.id in video_ids),
        annotations=tuple(track for track in dataset.annotations or () if track.video_id in video_ids),
        categories=dataset.categories,
        extra=dataset.extra,
    )


def split_videos(
    dataset: VideoDataset, val_fraction: float, seed: int, source: str = "<annotations>"
) -> SplitResult:
    """Split ``dataset`` into training and validation parts (see the module docstring)."""
    if not 0.0 < val_fraction < 1.0:
        raise UserError(f"--val-fraction: expected a number strictly between 0 and 1, got {val_fraction}")
    if not dataset.has_ground_truth:
        raise FormatError(source, None, "annotations", "expected ground truth to split, the file has none")
    if len(dataset.videos) < 2:
        raise FormatError(
            source, None, "videos", f"expected at least 2 videos to split, got {len(dataset.videos)}"
        )
    strata = video_strata(dataset)
    members: dict[int, list[int]] = {}
    for video in sorted(dataset.videos, key=lambda video: video.id):
        members.setdefault(strata[video.id], []).append(video.id)
    total = min(max(round(val_fraction * len(dataset.videos)), 1), len(dataset.videos) - 1)
    quotas = _quotas({stratum: len(ids) for stratum, ids in members.items()}, val_fraction, total)
    generator = np.random.default_rng(seed)
    val_ids: set[int] = set()
    counts = {}
    for stratum in sorted(members):
        ids = members[stratum]
        order = generator.permutation(len(ids))
        chosen = {ids[position] for position in order[: quotas[stratum]]}
        val_ids |= chosen
        counts[stratum] = (len(ids) - len(chosen), len(chosen))
    train_ids = {video.id for video in dataset.videos} - val_ids
    return SplitResult(train=_subset(dataset, train_ids), val=_subset(dataset, val_ids), strata=counts)

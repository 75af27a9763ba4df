"""The checks the evaluator makes on predicted tracks before computing anything.

Every result must name a video of the ground truth (the servers refuse the whole file otherwise), carry
a finite score and one entry per frame of its video, and every mask must be compressed RLE of the
video's size whose counts use COCO's alphabet and end a number. Run totals are not re-decoded here (that
costs more than the evaluation itself); :func:`instanceformer.core.formats.check_results_against` does
the full check.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from instanceformer.core.errors import FormatError
from instanceformer.core.formats import TrackResult, Video, VideoDataset

# Characters '0'..'o' carry 5 data bits and a continuation bit; a number ends on '0'..'O'.
_COMPRESSED_COUNTS = re.compile(r"[0-o]*[0-O]")
_ALPHABET = bytes(range(ord("0"), ord("o") + 1))
_LAST_CHARACTER_BOUND = "P"
_SIZE = itemgetter("size")
_COUNTS = itemgetter("counts")
_LAST_CHARACTER = itemgetter(-1)


def _counts_problem(counts: Any) -> str | None:
    """Why ``counts`` is not compressed RLE counts, or ``None`` when it looks well formed."""
    if isinstance(counts, bytes):
        try:
            counts = counts.decode("ascii")
        except UnicodeDecodeError:
            return "expected compressed RLE counts made of ASCII characters"
    if not isinstance(counts, str):
        return f"expected compressed RLE counts (a string), got {type(counts).__name__}"
    if _COMPRESSED_COUNTS.fullmatch(counts) is None:
        return "expected compressed RLE counts, got characters outside COCO's alphabet or a truncated string"
    return None


def _check_masks(source: str, record: str, result: TrackResult, video: Video) -> None:
    """Check the per-frame masks of one result against its video."""
    num_entries = len(result.segmentations)
    if num_entries != video.length:
        raise FormatError(
            source,
            record,
            "segmentations",
            f"expected {video.length} entries (the length of video {video.id}), got {num_entries}",
        )
    expected_size = [video.height, video.width]
    for frame, segmentation in enumerate(result.segmentations):
        if segmentation is None:
            continue
        if [int(value) for value in segmentation["size"]] != expected_size:
            raise FormatError(
                source,
                record,
                f"segmentations[{frame}].size",
                f"expected {expected_size} (the size of video {video.id}), got {list(segmentation['size'])}",
            )
        problem = _counts_problem(segmentation["counts"])
        if problem is not None:
            raise FormatError(source, record, f"segmentations[{frame}].counts", problem)


def _masks_by_size(
    results: Sequence[TrackResult], videos: Sequence[Video]
) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """The non-null masks of ``results``, grouped by the ``(height, width)`` of their result's video."""
    groups: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for result, video in zip(results, videos, strict=True):
        groups[video.height, video.width].extend(
            segmentation for segmentation in result.segmentations if segmentation is not None
        )
    return groups


def _looks_valid(results: Sequence[TrackResult], dataset: VideoDataset) -> bool:
    """Fast check of all results (no message), in whole-list passes: known videos, finite scores, frame
    counts, mask sizes, and string counts in COCO's alphabet that end a number."""
    videos = [dataset.video(result.video_id) for result in results if dataset.has_video(result.video_id)]
    if len(videos) != len(results):
        return False
    try:
        if not all(math.isfinite(float(result.score)) for result in results):
            return False
    except OverflowError:
        return False
    if any(len(result.segmentations) != video.length for result, video in zip(results, videos, strict=True)):
        return False
    counts: list[Any] = []
    for (height, width), masks in _masks_by_size(results, videos).items():
        sizes = list(map(_SIZE, masks))
        if sizes.count([height, width]) != len(sizes):
            return False
        counts.extend(map(_COUNTS, masks))
    if not all(counts):
        return False
    try:
        characters = "".join(counts)  # TypeError unless every counts is a string
    except TypeError:
        return False
    if counts and max(map(_LAST_CHARACTER, counts)) >= _LAST_CHARACTER_BOUND:
        return False
    return characters.isascii() and not characters.encode("ascii").translate(None, _ALPHABET)


def check_results(results: Sequence[TrackResult], dataset: VideoDataset, source: str = "<results>") -> None:
    """Raise :class:`FormatError` (naming ``source``, the result and the field) at the first bad result."""
    if _looks_valid(results, dataset):
        return
    for index, result in enumerate(results):
        record = f"results[{index}] (video_id {result.video_id})"
        if not dataset.has_video(result.video_id):
            raise FormatError(
                source,
                record,
                "video_id",
                f"expected the id of a video of the ground truth, got {result.video_id}",
            )
        if not math.isfinite(float(result.score)):
            raise FormatError(source, record, "score", f"expected a finite number, got {result.score}")
        _check_masks(source, record, result, dataset.video(result.video_id))

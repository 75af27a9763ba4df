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
from collections.abc import Sequence
from typing import Any

from instanceformer.core.errors import FormatError
from instanceformer.core.formats import TrackResult, Video, VideoDataset

# Characters '0'..'o' carry 5 data bits and a continuation bit; a number ends on '0'..'O'.
_COMPRESSED_COUNTS = re.compile(r"[0-o]*[0-O]")
_ALPHABET = re.compile(r"[0-o]*")
_LAST_CHARACTER_BOUND = "P"


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


def _looks_valid(result: TrackResult, video: Video) -> bool:
    """Fast check of one result (no message): frame count, sizes, string counts in the alphabet."""
    if len(result.segmentations) != video.length:
        return False
    masks = [segmentation for segmentation in result.segmentations if segmentation is not None]
    height, width = video.height, video.width
    if any(mask["size"][0] != height or mask["size"][1] != width for mask in masks):
        return False
    counts = [mask["counts"] for mask in masks]
    if not all(type(value) is str and value and value[-1] < _LAST_CHARACTER_BOUND for value in counts):
        return False
    return _ALPHABET.fullmatch("".join(counts)) is not None


def check_results(results: Sequence[TrackResult], dataset: VideoDataset, source: str = "<results>") -> None:
    """Raise :class:`FormatError` (naming ``source``, the result and the field) at the first bad result."""
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
        video = dataset.video(result.video_id)
        if not _looks_valid(result, video):
            _check_masks(source, record, result, video)

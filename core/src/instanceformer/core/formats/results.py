"""The results format of the YouTube-VIS / OVIS evaluation servers.

``results.json`` is a list of tracks ``{"video_id", "category_id", "score", "segmentations"}`` with
one compressed RLE (``counts`` a string) or ``null`` per frame of the video. The servers take it
zipped, as a single member ``results.json`` at the root of the archive.

:func:`load_results` checks the structure (FormatError naming the file, the record and the field);
:func:`check_results_against` lists every problem relative to a dataset without raising, so that a
validator can report them all.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

from instanceformer.core.errors import FormatError
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.formats.fields import RecordFields, is_integer, only_types, type_name
from instanceformer.core.formats.jsonfile import parse_json_bytes
from instanceformer.core.formats.rle import compressed_counts_cover, compressed_runs
from instanceformer.core.formats.video_dataset import VideoDataset
from instanceformer.core.io import write_bytes_atomic, write_zip_atomic

RESULTS_MEMBER = "results.json"
_EXAMPLES_SHOWN = 3
_RESULT_FIELDS = itemgetter("video_id", "category_id", "score", "segmentations")
_SIZE = itemgetter("size")
_COUNTS = itemgetter("counts")


@dataclass(frozen=True)
class TrackResult:
    """One predicted track: a category, a confidence score and one mask (or ``None``) per frame.

    ``segmentations`` holds RLE dicts ``{"size": [height, width], "counts": str}`` (compressed, as the
    servers want; ``counts`` as bytes is accepted and written as a string).
    """

    video_id: int
    category_id: int
    score: float
    segmentations: tuple[dict[str, Any] | None, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.segmentations, tuple):
            object.__setattr__(self, "segmentations", tuple(self.segmentations))

    def to_json(self) -> dict[str, Any]:
        """The track as a JSON object of ``results.json`` (``counts`` bytes become strings)."""
        return {
            "video_id": self.video_id,
            "category_id": self.category_id,
            "score": float(self.score),
            "segmentations": [_segmentation_to_json(segmentation) for segmentation in self.segmentations],
        }


def _segmentation_to_json(segmentation: dict[str, Any] | None) -> dict[str, Any] | None:
    """An RLE dict with ``counts`` as a string and ``size`` as a list, or ``None``."""
    if segmentation is None:
        return None
    counts = segmentation["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(value) for value in segmentation["size"]], "counts": counts}


def _parse_segmentation(fields: RecordFields, frame: int, value: Any) -> dict[str, Any] | None:
    """One per-frame entry: ``null`` or an RLE dict with ``size`` and ``counts`` (structure only)."""
    field = f"segmentations[{frame}]"
    if value is None:
        return None
    if not isinstance(value, dict) or "size" not in value or "counts" not in value:
        raise fields.error(
            field, f"expected an RLE object with 'size' and 'counts' or null, got {type_name(value)}"
        )
    size = value["size"]
    if not isinstance(size, list) or len(size) != 2 or not all(is_integer(v) and v > 0 for v in size):
        raise fields.error(
            f"{field}.size", f"expected [height, width] as two positive integers, got {size!r}"
        )
    if not isinstance(value["counts"], str | list):
        raise fields.error(
            f"{field}.counts", f"expected a string or a list, got {type_name(value['counts'])}"
        )
    return value


def _parse_track_result(fields: RecordFields) -> TrackResult:
    """One entry of the results list, every field checked in turn (the path that finds the first problem)."""
    raw_segmentations = fields.list_field("segmentations")
    return TrackResult(
        video_id=fields.integer("video_id"),
        category_id=fields.integer("category_id"),
        score=fields.number("score"),
        segmentations=tuple(
            _parse_segmentation(fields, frame, value) for frame, value in enumerate(raw_segmentations)
        ),
    )


def _masks_look_valid(segmentations: list[Any]) -> bool:
    """Whether every per-frame entry passes :func:`_parse_segmentation`, checked in whole-list passes."""
    masks = [value for value in segmentations if value is not None]
    if not only_types(masks, dict):
        return False
    try:
        sizes = list(map(_SIZE, masks))
        counts = list(map(_COUNTS, masks))
    except KeyError:
        return False
    if not only_types(sizes, list):
        return False
    distinct = set(map(tuple, sizes))  # a few (height, width) pairs
    if any(len(size) != 2 or not only_types(size, int) or min(size) < 1 for size in distinct):
        return False
    # True equals 1, so deduplication can hide a boolean behind a 1: look at every value then.
    if any(1 in size for size in distinct) and not only_types(chain.from_iterable(sizes), int):
        return False
    return only_types(counts, str, list)


def _fast_parse_results(payload: list[Any]) -> list[TrackResult] | None:
    """The results of a well-formed payload in whole-list passes, or ``None`` when anything is off.

    Accepts exactly what the record-by-record path accepts; that path then names the first problem.
    """
    if not payload:
        return []
    if not only_types(payload, dict):
        return None
    try:
        columns = list(zip(*map(_RESULT_FIELDS, payload), strict=True))
    except KeyError:
        return None
    video_ids, category_ids, scores, segmentations = columns
    if not (only_types(video_ids, int) and only_types(category_ids, int)):
        return None
    try:
        if not only_types(scores, int, float) or not all(map(math.isfinite, scores)):
            return None
    except OverflowError:
        return None
    if not only_types(segmentations, list) or not _masks_look_valid(list(chain.from_iterable(segmentations))):
        return None
    return list(map(TrackResult, video_ids, category_ids, scores, map(tuple, segmentations)))


@paused_garbage_collection()
def parse_results(payload: Any, source: str = "<results>") -> list[TrackResult]:
    """Build the list of :class:`TrackResult` from parsed JSON (FormatError on a structural problem).

    Each track needs integer ``video_id`` and ``category_id``, a finite ``score`` and a list
    ``segmentations`` whose entries are ``null`` or an RLE object with ``size`` (two positive integers)
    and ``counts`` (a string or a list). A well-formed file is checked in whole-list passes; otherwise
    the tracks are read one by one so that the error names the first bad record and field.
    """
    if not isinstance(payload, list):
        raise FormatError(
            source, None, None, f"expected a JSON list of tracks at the top level, got {type_name(payload)}"
        )
    results = _fast_parse_results(payload)
    if results is not None:
        return results
    return [
        _parse_track_result(RecordFields(source, f"results[{index}]", raw))
        for index, raw in enumerate(payload)
    ]


def _read_results_member(path: Path) -> bytes:
    """The bytes of ``results.json`` in the zip ``path``, which must hold nothing else."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if names != [RESULTS_MEMBER]:
                listed = ", ".join(names) if names else "nothing"
                raise FormatError(
                    path,
                    None,
                    None,
                    f"expected a zip holding only '{RESULTS_MEMBER}' at its root (no folder), "
                    f"it holds {listed}",
                )
            return archive.read(RESULTS_MEMBER)
    except zipfile.BadZipFile as problem:
        raise FormatError(path, None, None, f"expected a zip archive: {problem}") from None


def read_results_payload(path: str | Path) -> tuple[Any, str]:
    """The parsed JSON of ``results.json`` or of the one member of a results zip, and its source name.

    FormatError for a zip holding anything but ``results.json`` at its root, or for invalid JSON.
    """
    path = Path(path)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        data = _read_results_member(path)
        source = f"{path} (member {RESULTS_MEMBER})"
    else:
        data = path.read_bytes()
        source = str(path)
    return parse_json_bytes(data, source), source


def load_results(path: str | Path) -> list[TrackResult]:
    """Load results from ``results.json`` or from a ``.zip`` holding exactly one ``results.json``."""
    payload, source = read_results_payload(path)
    return parse_results(payload, source)


def results_to_json(results: Iterable[TrackResult]) -> list[dict[str, Any]]:
    """The JSON list of ``results.json``."""
    return [result.to_json() for result in results]


def _results_bytes(results: Iterable[TrackResult]) -> bytes:
    """Compact UTF-8 JSON of the results (the exact bytes written to ``results.json``)."""
    return json.dumps(results_to_json(results), separators=(",", ":"), allow_nan=False).encode("utf-8")


def write_results_json(results: Iterable[TrackResult], path: str | Path) -> Path:
    """Write ``results.json`` atomically (compact JSON, the same bytes as the zip's member)."""
    return write_bytes_atomic(path, _results_bytes(results))


def write_results_zip(results: Iterable[TrackResult], path: str | Path) -> Path:
    """Write the server zip atomically: one member ``results.json`` at the root, deterministic bytes."""
    return write_zip_atomic(path, {RESULTS_MEMBER: _results_bytes(results)})


def _frame_list(frames: Sequence[int]) -> str:
    """``"segmentations[0, 3, 7, ...]"`` with at most a few frame indices shown."""
    shown = ", ".join(str(frame) for frame in frames[:_EXAMPLES_SHOWN])
    more = ", ..." if len(frames) > _EXAMPLES_SHOWN else ""
    return f"segmentations[{shown}{more}]"


def _masks(count: int, singular_verb: str, plural_verb: str) -> str:
    """``"1 mask has"`` or ``"3 masks have"``."""
    return f"1 mask {singular_verb}" if count == 1 else f"{count} masks {plural_verb}"


def _segmentation_problems(prefix: str, result: TrackResult, height: int, width: int) -> list[str]:
    """Problems of one result's masks: wrong size, uncompressed RLE, malformed compressed counts."""
    wrong_size: list[int] = []
    sizes_seen: list[list[int]] = []
    uncompressed: list[int] = []
    malformed: list[int] = []
    for frame, segmentation in enumerate(result.segmentations):
        if segmentation is None:
            continue
        size = list(segmentation["size"])
        if size != [height, width]:
            wrong_size.append(frame)
            sizes_seen.append(size)
            continue
        counts = segmentation["counts"]
        if not isinstance(counts, str | bytes):
            uncompressed.append(frame)
            continue
        try:
            runs = compressed_runs(counts)  # [num_runs]
        except ValueError:
            malformed.append(frame)
            continue
        if (runs.size and runs.min() < 0) or int(runs.sum()) != height * width:
            malformed.append(frame)
    problems = []
    if wrong_size:
        problems.append(
            f"{prefix}: {_masks(len(wrong_size), 'has', 'have')} a size other than the video's "
            f"[{height}, {width}] ({_frame_list(wrong_size)}, e.g. {sizes_seen[0]})"
        )
    if uncompressed:
        problems.append(
            f"{prefix}: {_masks(len(uncompressed), 'is', 'are')} uncompressed RLE, the servers want "
            f"compressed RLE (counts a string) ({_frame_list(uncompressed)})"
        )
    if malformed:
        problems.append(
            f"{prefix}: {_masks(len(malformed), 'has', 'have')} malformed compressed counts or counts "
            f"not covering {height}x{width} pixels ({_frame_list(malformed)})"
        )
    return problems


def _consistent(results: Sequence[TrackResult], dataset: VideoDataset, category_ids: set[int]) -> bool:
    """True when :func:`check_results_against` finds no problem (checked without wording any)."""
    masks_by_size: defaultdict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        if not (0.0 <= result.score <= 1.0 and result.category_id in category_ids):
            return False
        if not dataset.has_video(result.video_id):
            return False
        video = dataset.video(result.video_id)
        if len(result.segmentations) != video.length:
            return False
        masks_by_size[video.height, video.width].extend(
            segmentation for segmentation in result.segmentations if segmentation is not None
        )
    for (height, width), masks in masks_by_size.items():
        expected_size = [height, width]
        if any(list(size) != expected_size for size in map(_SIZE, masks)):
            return False
        counts = list(map(_COUNTS, masks))
        if not all(isinstance(value, str | bytes) for value in counts):
            return False
        if not compressed_counts_cover(counts, height * width):
            return False
    return True


def check_results_against(results: Sequence[TrackResult], dataset: VideoDataset) -> list[str]:
    """Every problem of ``results`` relative to ``dataset``, one line each (empty when consistent).

    Reported per track: a video id not in the dataset, a category id not in the dataset, a score outside
    ``[0, 1]``, a number of frames other than the video's length, masks whose size is not the video's,
    uncompressed RLE, and malformed compressed counts. Consistent results are recognised in whole-list
    passes (``ifm-infer evaluate`` runs this check on every file it scores); the track-by-track pass
    that words each problem runs only when there is one.
    """
    category_ids = set(dataset.category_ids())
    if _consistent(results, dataset, category_ids):
        return []
    problems: list[str] = []
    for index, result in enumerate(results):
        prefix = f"results[{index}] (video_id {result.video_id})"
        if not 0.0 <= result.score <= 1.0:
            problems.append(f"{prefix}: score {result.score} is outside [0, 1]")
        if result.category_id not in category_ids:
            problems.append(f"{prefix}: category_id {result.category_id} is not a category of the dataset")
        if not dataset.has_video(result.video_id):
            problems.append(f"{prefix}: video_id {result.video_id} is not a video of the dataset")
            continue
        video = dataset.video(result.video_id)
        if len(result.segmentations) != video.length:
            problems.append(
                f"{prefix}: {len(result.segmentations)} segmentations, the video has {video.length} frames"
            )
        problems.extend(_segmentation_problems(prefix, result, video.height, video.width))
    return problems

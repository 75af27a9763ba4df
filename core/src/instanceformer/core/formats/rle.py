"""Mask encodings of the COCO / YouTube-VIS family: run-length encoding (RLE) and polygons.

A mask is a ``[height, width]`` array (uint8 or bool; any non-zero value is foreground). Runs are
counted in column-major order (down the first column, then the next), starting with a run of zeros
that is empty when the first pixel is foreground. Two spellings of a run list exist:

- uncompressed RLE: ``{"size": [height, width], "counts": [int, ...]}`` (the annotation files);
- compressed RLE: ``{"size": [height, width], "counts": str}``: the runs written in COCO's
  6-bit character code (results files). This module always returns ``counts`` as ``str``.

A polygon segmentation is a list of polygons, each a flat ``[x0, y0, x1, y1, ...]`` list of pixel
coordinates with at least three points. Rasterisation is pycocotools': for an axis-aligned rectangle
with corners ``(x0, y0)`` and ``(x1, y1)`` the pixel in column ``c`` and row ``r`` is set exactly when
``floor(x0 + 0.5) <= c < floor(x1 + 0.5)`` and ``floor(y0 + 0.5) <= r < floor(y1 + 0.5)``.

Encoding and decoding run in pycocotools (C). Every segmentation is validated first (sizes, run
lengths, characters), so a malformed one raises :class:`ValueError` with a readable message instead
of producing garbage pixels.
"""

from __future__ import annotations

import math
import warnings
from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

Segmentation = dict[str, Any] | list[list[float]]

# The compressed alphabet: each character holds 5 data bits, a continuation bit and an offset of 48.
_CHARACTER_OFFSET = 48
_CHARACTER_RANGE = 64
_CONTINUATION_BIT = 0x20
_SIGN_BIT = 0x10
_DATA_BITS = 0x1F
_BITS_PER_CHARACTER = 5
_MINIMUM_POLYGON_COORDINATES = 6
# 12 groups of 5 bits hold any run of a mask with fewer than 2**59 pixels; longer numbers are corrupt.
_MAXIMUM_CHARACTERS_PER_RUN = 12


def _as_binary_mask(mask: np.ndarray) -> np.ndarray:
    """Check that ``mask`` is a non-empty ``[height, width]`` array and return it as 0/1 uint8."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"expected a [height, width] mask, got an array of shape {list(array.shape)}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"expected a mask with at least one pixel, got shape {list(array.shape)}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"expected a boolean or numeric mask, got dtype {array.dtype}")
    return (array != 0).astype(np.uint8)


def _counts_to_str(rle: dict[str, Any]) -> dict[str, Any]:
    """A pycocotools RLE with ``counts`` as ``str`` and ``size`` as a list of Python ints."""
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """Encode a ``[height, width]`` mask as compressed RLE ``{"size": [height, width], "counts": str}``."""
    binary = _as_binary_mask(mask)
    return _counts_to_str(coco_mask.encode(np.asfortranarray(binary)))


def encode_masks(masks: np.ndarray) -> list[dict[str, Any]]:
    """Encode ``[num_masks, height, width]`` masks (e.g. one object over the frames) as compressed RLEs."""
    array = np.asarray(masks)
    if array.ndim != 3:
        raise ValueError(f"expected [num_masks, height, width] masks, got shape {list(array.shape)}")
    return [encode_mask(mask) for mask in array]


def encode_mask_uncompressed(mask: np.ndarray) -> dict[str, Any]:
    """Encode a ``[height, width]`` mask as uncompressed RLE ``{"size": [height, width], "counts": [...]}``.

    The counts alternate background and foreground runs in column-major order, starting with the
    background run (``0`` when the first pixel is foreground); their sum is ``height * width``.
    """
    binary = _as_binary_mask(mask)
    flat = binary.ravel(order="F")  # [height * width], column-major
    change_positions = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    boundaries = np.concatenate(([0], change_positions, [flat.size]))
    runs = np.diff(boundaries).tolist()
    if flat[0]:
        runs.insert(0, 0)
    return {"size": [int(binary.shape[0]), int(binary.shape[1])], "counts": runs}


def _compressed_bytes(counts: str | bytes) -> bytes:
    """The characters of a compressed counts string as bytes (ValueError for non-ASCII text)."""
    if isinstance(counts, str):
        try:
            return counts.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("expected compressed RLE counts made of ASCII characters") from None
    return bytes(counts)


def compressed_runs(counts: str | bytes) -> np.ndarray:
    """Decode COCO's compressed counts string into run lengths: ``[num_runs]`` int64 (may be invalid).

    Each run is written as a little-endian sequence of 5-bit groups, one character per group
    (character = 48 + group + 32 when more groups follow), the last group's high bit being the sign;
    from the fourth run on, the value written is the difference to the run two places before.
    Raises ValueError for characters outside the alphabet, a string that ends inside a number, or a
    number longer than ``_MAXIMUM_CHARACTERS_PER_RUN`` characters. The caller checks the runs
    (non-negative, summing to ``height * width``). Vectorised in numpy: results files hold millions.
    """
    data = _compressed_bytes(counts)
    codes = np.frombuffer(data, dtype=np.uint8).astype(np.int64) - _CHARACTER_OFFSET  # [num_characters]
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    invalid = np.flatnonzero((codes < 0) | (codes >= _CHARACTER_RANGE))
    if invalid.size:
        position = int(invalid[0])
        raise ValueError(
            f"expected compressed RLE counts, got the character {chr(data[position])!r} "
            f"at position {position}"
        )
    is_last = (codes & _CONTINUATION_BIT) == 0  # [num_characters], True on a run's last character
    if not is_last[-1]:
        raise ValueError("expected compressed RLE counts, got a string that ends inside a number")
    last_positions = np.flatnonzero(is_last)  # [num_runs]
    first_positions = np.concatenate(([0], last_positions[:-1] + 1))  # [num_runs]
    run_of_character = np.cumsum(is_last) - is_last  # [num_characters], index of the run it belongs to
    group_index = np.arange(codes.size) - first_positions[run_of_character]  # [num_characters]
    if int(group_index.max()) >= _MAXIMUM_CHARACTERS_PER_RUN:
        raise ValueError("expected compressed RLE counts, got a run length too large for any mask")
    groups = (codes & _DATA_BITS) << (_BITS_PER_CHARACTER * group_index)  # [num_characters]
    written = np.add.reduceat(groups, first_positions)  # [num_runs]
    negative = (codes[last_positions] & _SIGN_BIT) != 0  # [num_runs]
    run_bits = _BITS_PER_CHARACTER * (last_positions - first_positions + 1)  # [num_runs]
    written = np.where(negative, written - (np.int64(1) << run_bits), written)
    runs = written.copy()
    # From the fourth run on, runs are stored as differences to the run two places before.
    if runs.size > 3:
        runs[3::2] = written[1] + np.cumsum(written[3::2])
    if runs.size > 4:
        runs[4::2] = written[2] + np.cumsum(written[4::2])
    return runs


def compressed_counts_cover(counts: Sequence[str | bytes], num_pixels: int) -> bool:
    """True when every string of ``counts`` is well-formed compressed RLE whose runs are non-negative and
    sum to ``num_pixels`` (what :func:`compressed_runs` and a check of its runs find one string at a time).

    All strings are decoded together, in whole-array passes: the fast check of a results file's masks of
    one size. The strings must be ASCII (``str`` or ``bytes``).
    """
    if not counts:
        return True
    try:
        pieces = [piece.encode("ascii") if isinstance(piece, str) else bytes(piece) for piece in counts]
    except UnicodeEncodeError:
        return False
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))  # [num_strings]
    if int(lengths.min()) == 0:
        return num_pixels == 0
    characters = np.frombuffer(b"".join(pieces), dtype=np.uint8)  # [num_characters]
    if (
        int(characters.min()) < _CHARACTER_OFFSET
        or int(characters.max()) >= _CHARACTER_OFFSET + _CHARACTER_RANGE
    ):
        return False
    codes = characters - np.uint8(_CHARACTER_OFFSET)  # [num_characters] uint8, 0..63
    decoded = _written_runs(codes, lengths)
    if decoded is None:
        return False
    written, first_run = decoded
    runs = _undo_differences(written, first_run)
    if int(runs.min()) < 0:
        return False
    totals = np.add.reduceat(runs, first_run)  # [num_strings]
    return bool((totals == num_pixels).all())


def _written_runs(codes: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The numbers written in the concatenated strings ``codes`` (characters minus 48) of ``lengths``
    characters each, and the index of each string's first number; None when a string ends inside a
    number or a number is too long.

    Every character is first read as a number of its own; the few numbers of several characters are then
    recomputed at their last character. Returns ``written`` ``[num_runs]`` int64 and ``first_run``
    ``[num_strings]``.
    """
    is_last = codes < _CONTINUATION_BIT  # [num_characters], True on a number's last character
    ends = np.cumsum(lengths) - 1  # [num_strings], each string's last character
    if not is_last[ends].all():
        return None
    starts = ends - lengths + 1  # [num_strings]
    written = np.subtract(codes & _DATA_BITS, (codes & _SIGN_BIT) << 1, dtype=np.int64)  # [num_characters]
    if is_last.all():  # one character per number
        return written, starts
    continued = np.flatnonzero(~is_last)  # characters followed by more of their number
    long_ends = continued[is_last[continued + 1]] + 1  # last characters of numbers of several characters
    num_characters = np.ones_like(long_ends)
    while True:
        before = long_ends - num_characters  # the character before each number's first found one
        extends = (before >= 0) & ~is_last[np.maximum(before, 0)]
        if not extends.any():
            break
        num_characters += extends
        if int(num_characters.max()) > _MAXIMUM_CHARACTERS_PER_RUN:
            return None
    values = np.zeros(long_ends.size, dtype=np.int64)
    for group in range(int(num_characters.max())):
        present = np.flatnonzero(num_characters > group)
        position = long_ends[present] - num_characters[present] + 1 + group
        values[present] += (codes[position] & _DATA_BITS).astype(np.int64) << (_BITS_PER_CHARACTER * group)
    negative = (codes[long_ends] & _SIGN_BIT) != 0
    values -= np.where(negative, np.int64(1) << (_BITS_PER_CHARACTER * num_characters), 0)
    written[long_ends] = values
    runs_per_string = np.add.reduceat(is_last, starts, dtype=np.int64)  # [num_strings]
    first_run = np.concatenate(([0], np.cumsum(runs_per_string)[:-1]))  # [num_strings]
    return written[is_last], first_run


def _undo_differences(written: np.ndarray, first_run: np.ndarray) -> np.ndarray:
    """The runs of strings whose numbers, from the fourth of a string on, are the difference to the run
    two places before: along each half of the numbers (every other one), a running sum that restarts at
    each of the first three numbers of a string (a restart's value lowered by the sum of the segment
    before it). ``written`` is modified."""
    runs_per_string = np.diff(np.append(first_run, written.size))  # [num_strings]
    restarts = np.sort(
        np.concatenate([first_run[runs_per_string > offset] + offset for offset in range(3)])
    )  # [num_restarts]
    runs = np.empty_like(written)  # [num_runs]
    for start in (0, 1):
        half = written[start::2]  # a view: every other number
        if not half.size:
            continue
        positions = restarts[restarts % 2 == start] // 2  # restarts within the half, the first is 0
        segment_sums = np.add.reduceat(half, positions)  # [num_half_restarts]
        half[positions[1:]] -= segment_sums[:-1]
        runs[start::2] = np.cumsum(half)
    return runs


def parse_compressed_counts(counts: str | bytes) -> list[int]:
    """The run lengths of a compressed counts string as Python ints (see :func:`compressed_runs`)."""
    return compressed_runs(counts).tolist()


def concatenate_uncompressed_counts(counts_lists: Sequence[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The runs of many uncompressed RLE counts lists in one array, without a Python loop per value.

    Returns ``(runs, offsets)``: ``runs`` ``[total_runs]`` uint64, the lists one after the other, and
    ``offsets`` ``[num_lists + 1]`` int64, list ``i`` being ``runs[offsets[i]:offsets[i + 1]]``.
    Raises ValueError when a counts value is not a list, or holds anything but integers in
    ``[0, 2**64)`` (``bool`` values count as integers, as numpy reads them).
    """
    runs = array("Q")
    try:
        for counts in counts_lists:
            runs.fromlist(counts)
    except (TypeError, OverflowError):
        raise ValueError("expected uncompressed RLE counts as flat lists of non-negative integers") from None
    lengths = np.fromiter(map(len, counts_lists), dtype=np.int64, count=len(counts_lists))  # [num_lists]
    offsets = np.concatenate(([0], np.cumsum(lengths)))  # [num_lists + 1]
    return np.frombuffer(runs, dtype=np.uint64), offsets


def _check_runs(runs: np.ndarray, height: int, width: int) -> None:
    """Check that ``[num_runs]`` run lengths are non-negative and cover exactly ``height * width`` pixels."""
    if runs.size and runs.min() < 0:
        raise ValueError("expected non-negative run lengths in the RLE counts")
    total = int(runs.sum())
    if total != height * width:
        raise ValueError(f"expected RLE counts summing to {height * width} (height x width), got {total}")


def _check_uncompressed_counts(counts: list[Any], height: int, width: int) -> None:
    """Check an uncompressed counts list: integers only, non-negative, summing to ``height * width``.

    The check runs in numpy: annotation files hold hundreds of thousands of such lists.
    """
    if not counts:
        raise ValueError(f"expected RLE counts summing to {height * width} (height x width), got none")
    try:
        runs = np.asarray(counts)  # [num_runs]
    except (ValueError, OverflowError):
        raise ValueError("expected uncompressed RLE counts as a flat list of integers") from None
    if runs.ndim != 1 or runs.dtype.kind not in "iu":
        raise ValueError("expected uncompressed RLE counts as a flat list of integers")
    _check_runs(runs, height, width)


def _check_size(size: Any, height: int, width: int) -> None:
    """Check an RLE's ``size`` field against the expected ``[height, width]``."""
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or any(isinstance(value, bool) or not isinstance(value, int) for value in size)
    ):
        raise ValueError(f"expected RLE size [height, width] as two integers, got {size!r}")
    if list(size) != [height, width]:
        raise ValueError(f"expected RLE size [{height}, {width}], got {list(size)}")


def _check_polygons(polygons: list[Any]) -> None:
    """Check a polygon segmentation: lists of finite numbers, even length, at least three points."""
    for index, polygon in enumerate(polygons):
        if not isinstance(polygon, list):
            raise ValueError(
                f"expected polygon {index} as a flat list of coordinates, got {type(polygon).__name__}"
            )
        if len(polygon) < _MINIMUM_POLYGON_COORDINATES or len(polygon) % 2:
            raise ValueError(
                f"expected polygon {index} with an even number (>= 6) of coordinates, got {len(polygon)}"
            )
        for value in polygon:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (isinstance(value, float) and not math.isfinite(value))
            ):
                raise ValueError(f"expected polygon {index} made of finite numbers, got {value!r}")


def validate_segmentation(segmentation: Any, height: int, width: int) -> None:
    """Check one segmentation (RLE dict or polygon list) of a ``height x width`` frame.

    Raises ValueError naming what is wrong: not a dict/list, missing ``size``/``counts``, a size other
    than ``[height, width]``, counts of the wrong type, negative runs, runs not summing to
    ``height * width``, malformed compressed counts, or malformed polygons.
    """
    if isinstance(segmentation, dict):
        missing = [key for key in ("size", "counts") if key not in segmentation]
        if missing:
            raise ValueError(f"expected an RLE with 'size' and 'counts', missing {', '.join(missing)}")
        _check_size(segmentation["size"], height, width)
        counts = segmentation["counts"]
        if isinstance(counts, list):
            _check_uncompressed_counts(counts, height, width)
        elif isinstance(counts, str | bytes):
            _check_runs(compressed_runs(counts), height, width)
        else:
            raise ValueError(
                f"expected RLE counts as a list of integers or a string, got {type(counts).__name__}"
            )
    elif isinstance(segmentation, list):
        _check_polygons(segmentation)
    else:
        raise ValueError(f"expected an RLE dict or a list of polygons, got {type(segmentation).__name__}")


def _to_coco_rle(segmentation: Segmentation, height: int, width: int) -> dict[str, Any]:
    """A validated segmentation as a pycocotools compressed RLE (``counts`` as bytes)."""
    validate_segmentation(segmentation, height, width)
    if isinstance(segmentation, list):
        if not segmentation:
            return coco_mask.encode(np.zeros((height, width), dtype=np.uint8, order="F"))
        return coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    counts = segmentation["counts"]
    if isinstance(counts, list):
        return coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [height, width], "counts": counts}


def _decode_coco(rle: dict[str, Any]) -> np.ndarray:
    """pycocotools' decode of one RLE: ``[height, width]`` uint8 in Fortran order.

    pycocotools' mask container predates numpy 2's ``copy`` argument; its deprecation warning is
    about pycocotools' internals and is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        return coco_mask.decode(rle)


def to_compressed(segmentation: Segmentation, height: int, width: int) -> dict[str, Any]:
    """Any segmentation of a ``height x width`` frame as compressed RLE with ``counts`` as ``str``."""
    return _counts_to_str(_to_coco_rle(segmentation, height, width))


def decode_segmentation(segmentation: Segmentation, height: int, width: int) -> np.ndarray:
    """Decode an RLE (compressed or not) or polygon segmentation into a ``[height, width]`` uint8 mask."""
    decoded = _decode_coco(_to_coco_rle(segmentation, height, width))  # [height, width], Fortran
    return np.ascontiguousarray(decoded)


def decode_segmentations(segmentations: Sequence[Segmentation | None], height: int, width: int) -> np.ndarray:
    """Decode the segmentations of one object over the frames: ``[num_masks, height, width]`` uint8.

    ``None`` entries (frames without the object) decode to empty masks. The result is C-contiguous.
    """
    if not segmentations:
        return np.zeros((0, height, width), dtype=np.uint8)
    empty = np.zeros((height, width), dtype=np.uint8)
    return np.stack(
        [
            empty if segmentation is None else _decode_coco(_to_coco_rle(segmentation, height, width))
            for segmentation in segmentations
        ]
    )


def segmentation_area(segmentation: Segmentation, height: int, width: int) -> int:
    """Number of foreground pixels of a segmentation of a ``height x width`` frame."""
    return int(coco_mask.area(_to_coco_rle(segmentation, height, width)))


def segmentation_bbox(segmentation: Segmentation, height: int, width: int) -> list[float]:
    """Bounding box ``[x, y, w, h]`` in pixels (COCO convention; ``[0, 0, 0, 0]`` for an empty mask).

    ``x, y`` are the first foreground column and row; ``w, h`` count the covered columns and rows.
    """
    return [float(value) for value in coco_mask.toBbox(_to_coco_rle(segmentation, height, width))]

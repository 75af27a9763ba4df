"""Mask encodings: RLE round trips, cross-checks against an independent numpy decoder, polygons."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from instanceformer.core.formats import (
    compressed_runs,
    concatenate_uncompressed_counts,
    decode_segmentation,
    decode_segmentations,
    encode_mask,
    encode_mask_uncompressed,
    encode_masks,
    parse_compressed_counts,
    segmentation_area,
    segmentation_bbox,
    to_compressed,
    validate_segmentation,
)

MAX_SIDE = 12


@st.composite
def masks(draw: st.DrawFn) -> np.ndarray:
    """Random [height, width] uint8 masks: sparse, dense, empty, full, single rows and columns."""
    height = draw(st.integers(1, MAX_SIDE))
    width = draw(st.integers(1, MAX_SIDE))
    kind = draw(st.sampled_from(["random", "empty", "full", "block"]))
    if kind == "empty":
        return np.zeros((height, width), dtype=np.uint8)
    if kind == "full":
        return np.ones((height, width), dtype=np.uint8)
    if kind == "block":
        mask = np.zeros((height, width), dtype=np.uint8)
        top = draw(st.integers(0, height - 1))
        left = draw(st.integers(0, width - 1))
        mask[top : draw(st.integers(top + 1, height)), left : draw(st.integers(left + 1, width))] = 1
        return mask
    return draw(arrays(np.uint8, (height, width), elements=st.integers(0, 1)))


def runs_to_mask(counts: list[int], height: int, width: int) -> np.ndarray:
    """Independent decoder: alternate 0/1 runs in column-major order -> [height, width] uint8."""
    values = np.arange(len(counts)) % 2  # [num_runs], 0 for background runs
    flat = np.repeat(values.astype(np.uint8), counts)  # [height * width]
    return flat.reshape((width, height)).T


def reference_runs(counts: str) -> list[int]:
    """Independent scalar decoder of COCO's compressed counts (as the C implementation reads them)."""
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value = 0
        shift = 0
        while True:
            if position >= len(counts):
                raise ValueError("ends inside a number")
            code = ord(counts[position]) - 48
            if not 0 <= code < 64:
                raise ValueError("character")
            value |= (code & 0x1F) << shift
            position += 1
            shift += 5
            if shift > 60:
                raise ValueError("too large")
            if not code & 0x20:
                if code & 0x10:
                    value |= -1 << shift
                break
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.characters(min_codepoint=48, max_codepoint=111), max_size=40),
        st.text(alphabet=st.characters(min_codepoint=40, max_codepoint=120), max_size=40),
    )
)
def test_compressed_counts_parser_matches_scalar_reference(counts: str) -> None:
    try:
        expected = reference_runs(counts)
    except ValueError:
        with pytest.raises(ValueError, match="expected compressed RLE counts"):
            compressed_runs(counts)
        return
    assert parse_compressed_counts(counts) == expected
    assert compressed_runs(counts).dtype == np.int64


def test_overlong_number_is_rejected() -> None:
    with pytest.raises(ValueError, match="too large"):
        compressed_runs("0" + "P" * 12 + "1")
    assert compressed_runs("P" * 11 + "0").tolist() == [0]


@settings(max_examples=150, deadline=None)
@given(masks())
def test_compressed_round_trip(mask: np.ndarray) -> None:
    rle = encode_mask(mask)
    assert rle["size"] == list(mask.shape)
    assert isinstance(rle["counts"], str)
    np.testing.assert_array_equal(decode_segmentation(rle, *mask.shape), mask)


@settings(max_examples=150, deadline=None)
@given(masks())
def test_uncompressed_round_trip_and_layout(mask: np.ndarray) -> None:
    rle = encode_mask_uncompressed(mask)
    height, width = mask.shape
    counts = rle["counts"]
    assert rle["size"] == [height, width]
    assert all(isinstance(run, int) for run in counts)
    assert sum(counts) == height * width
    # The first run counts background pixels; it is empty exactly when the first pixel is foreground.
    assert (counts[0] == 0) == bool(mask[0, 0])
    assert all(run > 0 for run in counts[1:])
    np.testing.assert_array_equal(runs_to_mask(counts, height, width), mask)
    np.testing.assert_array_equal(decode_segmentation(rle, height, width), mask)
    # Boolean masks (what the synthetic generator encodes) give the same runs.
    assert encode_mask_uncompressed(mask.astype(bool)) == rle


@settings(max_examples=150, deadline=None)
@given(masks())
def test_uncompressed_to_compressed_matches_pycocotools_encoding(mask: np.ndarray) -> None:
    height, width = mask.shape
    uncompressed = encode_mask_uncompressed(mask)
    compressed = to_compressed(uncompressed, height, width)
    assert compressed == encode_mask(mask)
    assert parse_compressed_counts(compressed["counts"]) == uncompressed["counts"]
    np.testing.assert_array_equal(decode_segmentation(compressed, height, width), mask)


@settings(max_examples=150, deadline=None)
@given(masks())
def test_area_and_bbox_equal_numpy(mask: np.ndarray) -> None:
    height, width = mask.shape
    rle = encode_mask(mask)
    assert segmentation_area(rle, height, width) == int(mask.sum())
    assert segmentation_area(encode_mask_uncompressed(mask), height, width) == int(mask.sum())
    rows, columns = np.nonzero(mask)
    if rows.size == 0:
        expected = [0.0, 0.0, 0.0, 0.0]
    else:
        expected = [
            float(columns.min()),
            float(rows.min()),
            float(columns.max() - columns.min() + 1),
            float(rows.max() - rows.min() + 1),
        ]
    assert segmentation_bbox(rle, height, width) == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, MAX_SIDE), st.integers(1, MAX_SIDE), st.data())
def test_batch_encode_and_decode_equal_single_calls(num_masks: int, height: int, width: int, data) -> None:
    stack = data.draw(arrays(np.uint8, (num_masks, height, width), elements=st.integers(0, 1)))
    encoded = encode_masks(stack)
    assert encoded == [encode_mask(mask) for mask in stack]
    mixed = [encoded[0], None, encode_mask_uncompressed(stack[-1])]
    decoded = decode_segmentations(mixed, height, width)
    assert decoded.shape == (3, height, width)
    np.testing.assert_array_equal(decoded[0], stack[0])
    np.testing.assert_array_equal(decoded[1], np.zeros((height, width), dtype=np.uint8))
    np.testing.assert_array_equal(decoded[2], stack[-1])


def test_decode_segmentations_of_nothing() -> None:
    assert decode_segmentations([], 4, 5).shape == (0, 4, 5)
    assert not decode_segmentations([None, None], 4, 5).any()


def test_encode_accepts_bool_and_nonbinary_values() -> None:
    mask = np.array([[0, 3], [255, 0]], dtype=np.uint8)
    expected = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(decode_segmentation(encode_mask(mask), 2, 2), expected)
    np.testing.assert_array_equal(decode_segmentation(encode_mask(mask.astype(bool)), 2, 2), expected)
    assert encode_mask_uncompressed(mask)["counts"] == [1, 2, 1]


def test_known_compressed_string() -> None:
    # Column-major pixels 0,1,1,0,1,0 -> runs [1, 2, 1, 1, 1].
    mask = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.uint8)
    assert encode_mask_uncompressed(mask)["counts"] == [1, 2, 1, 1, 1]
    assert parse_compressed_counts(encode_mask(mask)["counts"]) == [1, 2, 1, 1, 1]


def test_large_runs_use_multi_character_numbers() -> None:
    mask = np.zeros((300, 200), dtype=np.uint8)
    mask[100:250, 50:51] = 1
    rle = encode_mask(mask)
    assert parse_compressed_counts(rle["counts"]) == [50 * 300 + 100, 150, 300 * 200 - 50 * 300 - 250]
    assert parse_compressed_counts(rle["counts"].encode("ascii")) == parse_compressed_counts(rle["counts"])


@st.composite
def rectangles(draw: st.DrawFn) -> tuple[float, float, float, float]:
    """Axis-aligned rectangles with corners on a quarter-pixel grid, partly outside a 9x11 frame."""
    quarter = st.integers(-4, 4 * 13).map(lambda value: value / 4)
    x0, x1 = sorted((draw(quarter), draw(quarter)))
    y0, y1 = sorted((draw(quarter), draw(quarter)))
    return x0, y0, x1, y1


@settings(max_examples=200, deadline=None)
@given(rectangles())
def test_rectangle_polygon_rasterisation(rectangle: tuple[float, float, float, float]) -> None:
    """pycocotools sets pixel (row r, column c) iff round-half-up(x0) <= c < round-half-up(x1), same for y."""
    height, width = 9, 11
    x0, y0, x1, y1 = rectangle
    polygon = [[x0, y0, x1, y0, x1, y1, x0, y1]]
    columns = np.arange(width)[None, :]
    rows = np.arange(height)[:, None]

    def round_half_up(value: float) -> int:
        return math.floor(value + 0.5)

    expected = (
        (columns >= round_half_up(x0))
        & (columns < round_half_up(x1))
        & (rows >= round_half_up(y0))
        & (rows < round_half_up(y1))
    ).astype(np.uint8)
    np.testing.assert_array_equal(decode_segmentation(polygon, height, width), expected)
    assert segmentation_area(polygon, height, width) == int(expected.sum())


def test_integer_rectangle_covers_half_open_pixel_range() -> None:
    mask = decode_segmentation([[1, 1, 4, 1, 4, 3, 1, 3]], 5, 6)
    expected = np.zeros((5, 6), dtype=np.uint8)
    expected[1:3, 1:4] = 1
    np.testing.assert_array_equal(mask, expected)
    assert segmentation_bbox([[1, 1, 4, 1, 4, 3, 1, 3]], 5, 6) == [1.0, 1.0, 3.0, 2.0]


def test_several_polygons_are_merged() -> None:
    mask = decode_segmentation([[0, 0, 2, 0, 2, 2, 0, 2], [4, 3, 6, 3, 6, 5, 4, 5]], 5, 6)
    expected = np.zeros((5, 6), dtype=np.uint8)
    expected[0:2, 0:2] = 1
    expected[3:5, 4:6] = 1
    np.testing.assert_array_equal(mask, expected)


def test_empty_polygon_list_is_an_empty_mask() -> None:
    assert not decode_segmentation([], 3, 4).any()
    assert to_compressed([], 3, 4) == encode_mask(np.zeros((3, 4), dtype=np.uint8))


@pytest.mark.parametrize(
    ("segmentation", "message"),
    [
        ("not a mask", "expected an RLE dict or a list of polygons"),
        ({"counts": [12]}, "missing size"),
        ({"size": [3, 4]}, "missing counts"),
        ({"size": [4, 3], "counts": [12]}, "expected RLE size [3, 4], got [4, 3]"),
        ({"size": [3], "counts": [12]}, "two integers"),
        ({"size": [3, 4], "counts": [5, 5]}, "summing to 12"),
        ({"size": [3, 4], "counts": [5, 5, 5]}, "summing to 12"),
        ({"size": [3, 4], "counts": [13, -1]}, "non-negative"),
        ({"size": [3, 4], "counts": [6.0, 6.0]}, "list of integers"),
        ({"size": [3, 4], "counts": [[6, 6]]}, "list of integers"),
        ({"size": [3, 4], "counts": []}, "got none"),
        ({"size": [3, 4], "counts": 12}, "list of integers or a string"),
        ({"size": [3, 4], "counts": "1"}, "summing to 12"),
        ({"size": [3, 4], "counts": "="}, "(height x width), got 13"),
        ({"size": [3, 4], "counts": "7 "}, "character ' '"),
        ({"size": [3, 4], "counts": "6\x7f"}, "character"),
        ({"size": [3, 4], "counts": "6é"}, "ASCII"),
        ({"size": [3, 4], "counts": "6P"}, "ends inside a number"),
        ([[0, 0, 2, 0]], "even number (>= 6)"),
        ([[0, 0, 2, 0, 2, 2, 0]], "even number (>= 6)"),
        ([[0, 0, 2, 0, 2, float("nan")]], "finite numbers"),
        ([[0, 0, 2, 0, 2, "2"]], "finite numbers"),
        ([(0, 0, 2, 0, 2, 2)], "flat list"),
    ],
)
def test_malformed_segmentations_are_rejected(segmentation: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_segmentation(segmentation, 3, 4)
    with pytest.raises(ValueError):
        decode_segmentation(segmentation, 3, 4)


def test_negative_compressed_run_is_rejected() -> None:
    # Runs 1 and 1, then a third run of -2 (data bits 0x1E with the sign bit set).
    counts = "11" + chr(48 + 0x1E)
    assert parse_compressed_counts(counts)[2] < 0
    with pytest.raises(ValueError, match="non-negative"):
        validate_segmentation({"size": [1, 2], "counts": counts}, 1, 2)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (3,), (2, 2, 2)])
def test_encode_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="mask"):
        encode_mask(np.zeros(shape, dtype=np.uint8))
    with pytest.raises(ValueError, match="mask"):
        encode_mask_uncompressed(np.zeros(shape, dtype=np.uint8))


def test_encode_masks_rejects_non_stack() -> None:
    with pytest.raises(ValueError, match="num_masks"):
        encode_masks(np.zeros((3, 4), dtype=np.uint8))
    assert encode_masks(np.zeros((0, 3, 4), dtype=np.uint8)) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=6), max_size=5))
def test_concatenated_counts_hold_every_list_in_order(counts_lists: list[list[int]]) -> None:
    runs, offsets = concatenate_uncompressed_counts(counts_lists)
    assert runs.dtype == np.uint64 and offsets.dtype == np.int64
    assert offsets.tolist() == [0, *np.cumsum([len(counts) for counts in counts_lists]).tolist()]
    for index, counts in enumerate(counts_lists):
        assert runs[offsets[index] : offsets[index + 1]].tolist() == counts


def test_concatenated_counts_read_booleans_as_integers() -> None:
    runs, offsets = concatenate_uncompressed_counts([[True, 2], [], [False]])
    assert runs.tolist() == [1, 2, 0] and offsets.tolist() == [0, 2, 2, 3]


@pytest.mark.parametrize("bad", [[1, -1], [1.0], (1, 2), [2**64], ["3"], [None], [[1]]])
def test_concatenated_counts_refuse_anything_but_lists_of_non_negative_integers(bad) -> None:
    with pytest.raises(ValueError, match="flat lists of non-negative integers"):
        concatenate_uncompressed_counts([[4, 5], bad])

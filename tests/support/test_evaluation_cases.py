"""The synthetic evaluation case: span-built RLE against drawn masks, determinism, consistency."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.core.formats import decode_segmentation, segmentation_bbox, validate_dataset
from tests.support.evaluation_cases import (
    EvaluationCaseSpec,
    _box,
    _uncompressed_counts,
    synthetic_evaluation_case,
)


@settings(max_examples=120, deadline=None)
@given(
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    seed=st.integers(0, 2**31 - 1),
)
def test_span_counts_decode_to_the_drawn_mask(height: int, width: int, seed: int) -> None:
    random = np.random.default_rng(seed)
    top = random.integers(0, height + 1, size=width)
    bottom = np.maximum(top, random.integers(0, height + 1, size=width))
    drawn = np.zeros((height, width), dtype=np.uint8)
    for column in range(width):
        drawn[top[column] : bottom[column], column] = 1
    counts = _uncompressed_counts(top, bottom, height, width)
    assert sum(counts) == height * width and min(counts) >= 0
    segmentation = {"size": [height, width], "counts": counts}
    np.testing.assert_array_equal(decode_segmentation(segmentation, height, width), drawn)
    assert _box(top, bottom) == segmentation_bbox(segmentation, height, width)


def test_case_is_seeded_and_consistent() -> None:
    spec = EvaluationCaseSpec(num_videos=3, num_frames=4, height=120, width=160, min_side=8, max_side=150)
    dataset, results = synthetic_evaluation_case(4, spec)
    again, results_again = synthetic_evaluation_case(4, spec)
    assert dataset.to_json() == again.to_json()
    assert [result.to_json() for result in results] == [result.to_json() for result in results_again]
    validate_dataset(dataset)
    for track in dataset.annotations:
        for segmentation, area in zip(track.segmentations, track.areas, strict=True):
            if segmentation is not None:
                assert int(decode_segmentation(segmentation, 120, 160).sum()) == area
    assert all(len(result.segmentations) == 4 for result in results)
    assert len(results) >= 3 * spec.predictions_per_video

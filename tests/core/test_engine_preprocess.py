"""Input resizing and normalisation, and masks back at the original size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from instanceformer.core.engine import inference_size, masks_at_original_size, prepare_frame
from instanceformer.core.model.batch import IMAGENET_MEAN, IMAGENET_STD


@settings(max_examples=200, deadline=None)
@given(
    height=st.integers(1, 4000),
    width=st.integers(1, 4000),
    min_size=st.integers(16, 800),
    extra=st.integers(0, 1500),
)
def test_inference_size_scales_the_short_side_and_caps_the_long_side(height, width, min_size, extra) -> None:
    max_size = min_size + extra
    new_height, new_width = inference_size(height, width, min_size, max_size)
    assert new_height >= 1 and new_width >= 1
    assert max(new_height, new_width) <= max_size + 1
    short, long = min(new_height, new_width), max(new_height, new_width)
    if max(height, width) * min_size / min(height, width) <= max_size:
        assert abs(short - min_size) <= 1
    else:
        assert abs(long - max_size) <= 1
    scale = min(min_size / min(height, width), max_size / max(height, width))
    for exact, found in ((height * scale, new_height), (width * scale, new_width)):
        assert abs(found - exact) <= 0.5 or (found == 1 and exact < 1)


def test_prepare_frame_normalises_pads_and_keeps_sizes() -> None:
    frame = torch.full((3, 30, 50), 200, dtype=torch.uint8)
    prepared = prepare_frame(frame, min_size=60, max_size=1000, size_divisibility=32)
    assert prepared.resized_size == (60, 100) and prepared.original_size == (30, 50)
    assert prepared.images.shape == (1, 3, 64, 128)
    assert prepared.padding_mask[0, :60, :100].logical_not().all() and prepared.padding_mask[0, 60:].all()
    expected = (200 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(prepared.images[0, :, 10, 10], expected, rtol=1e-5, atol=1e-5)
    assert prepared.images[0, :, 62, 120].abs().max() == 0


def test_prepare_frame_rejects_float_frames() -> None:
    with pytest.raises(ValueError, match="uint8"):
        prepare_frame(torch.zeros(3, 4, 4), 8, 16, 32)


def test_masks_at_original_size_match_an_independent_resize() -> None:
    resized, original, stride = (48, 64), (96, 128), 4
    logits = torch.full((1, 16, 16), -8.0)  # padded input 64x64, image 48x64 inside
    logits[0, 2:8, 4:12] = 8.0
    found = masks_at_original_size(logits, stride, resized, original, threshold=0.5)[0].numpy()
    # independent path: PIL bilinear resizes of the probability map, no torch
    probabilities = 1 / (1 + np.exp(-logits[0].numpy()))
    padded = np.asarray(
        Image.fromarray(probabilities.astype(np.float32), mode="F").resize((64, 64), Image.BILINEAR)
    )
    full = np.asarray(Image.fromarray(padded[:48, :64], mode="F").resize((128, 96), Image.BILINEAR))
    expected = full > 0.5
    assert found.shape == (96, 128)
    assert (found != expected).mean() < 0.01
    rows, columns = np.nonzero(found)
    assert abs(rows.min() - 16) <= 2 and abs(rows.max() - 63) <= 2
    assert abs(columns.min() - 32) <= 2 and abs(columns.max() - 95) <= 2

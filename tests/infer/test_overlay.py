"""The overlay drawing: masks of the leading tracks in their colour, nothing else touched far away."""

from __future__ import annotations

import numpy as np
import torch

from instanceformer.core.engine import FrameReport
from instanceformer.core.runtime.overlay import MASK_OPACITY
from instanceformer.core.runtime.palette import track_colour
from instanceformer.infer.overlay import draw_overlay, leader_labels


def _report() -> FrameReport:
    masks = torch.zeros(3, 60, 80, dtype=torch.bool)
    masks[0, 25:58, 50:70] = True
    masks[1, 5:15, 5:15] = True  # query 9: not a leader
    return FrameReport(
        frame_index=0, queries=torch.tensor([3, 9, 4]), masks=masks, leaders=((3, 1, 0.9), (4, 0, 0.5))
    )


def test_leading_track_masks_are_blended_and_others_are_not() -> None:
    frame = np.full((60, 80, 3), 100, dtype=np.uint8)
    drawn = draw_overlay(frame, _report(), ["a", "b"])
    assert drawn.shape == frame.shape and drawn.dtype == np.uint8
    expected = np.round(100 * (1 - MASK_OPACITY) + np.array(track_colour(3)) * MASK_OPACITY)
    # the label sits above the mask and the outline on its edge; the mask's inside is pure blend
    np.testing.assert_array_equal(drawn[56, 51:69], np.broadcast_to(expected, (18, 3)))
    np.testing.assert_array_equal(drawn[57, 51:69], np.broadcast_to(track_colour(3), (18, 3)))
    np.testing.assert_array_equal(drawn[:, :45], frame[:, :45])  # query 9 is not a leader


def test_only_leaders_with_pixels_get_a_label() -> None:
    labels = leader_labels(_report(), ["a", "b"])
    assert [(label.colour_key, label.text) for label in labels] == [(3, "#3 b 0.90")]  # query 4 is empty

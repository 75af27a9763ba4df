"""The overlay drawing: masks of the leading tracks in their colour, nothing else touched far away."""

from __future__ import annotations

import numpy as np
import torch

from instanceformer.core.engine import FrameReport
from instanceformer.infer.overlay import MASK_OPACITY, draw_overlay, track_colour


def test_leading_track_masks_are_blended_and_others_are_not() -> None:
    frame = np.full((60, 80, 3), 100, dtype=np.uint8)
    masks = torch.zeros(2, 60, 80, dtype=torch.bool)
    masks[0, 25:58, 50:70] = True
    masks[1, 5:15, 5:15] = True
    report = FrameReport(frame_index=0, queries=torch.tensor([3, 9]), masks=masks, leaders=((3, 1, 0.9),))
    drawn = draw_overlay(frame, report, ["a", "b"])
    assert drawn.shape == frame.shape and drawn.dtype == np.uint8
    expected = np.round(100 * (1 - MASK_OPACITY) + np.array(track_colour(3)) * MASK_OPACITY)
    # the label sits at the mask's top-left corner; the bottom rows of the mask are pure blend
    np.testing.assert_array_equal(drawn[56, 55:70], np.broadcast_to(expected, (15, 3)))
    np.testing.assert_array_equal(drawn[5:15, 5:15], frame[5:15, 5:15])  # query 9 is not a leader
    np.testing.assert_array_equal(drawn[:20, 30:], frame[:20, 30:])


def test_track_colours_are_stable_and_distinct() -> None:
    colours = [track_colour(track) for track in range(10)]
    assert colours == [track_colour(track) for track in range(10)]
    assert len(set(colours)) == 10

"""The overlay of ``ifm-infer video``: the frame's leading tracks with their query, class and score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from instanceformer.core.runtime.overlay import MaskLabel, draw_masks

if TYPE_CHECKING:
    from instanceformer.core.engine import FrameReport


def leader_labels(report: FrameReport, class_names: Sequence[str]) -> list[MaskLabel]:
    """The labels of the leading tracks whose query is among the frame's candidates, in leader order.

    A track is labelled ``#<query> <class> <score>`` and keyed by its query; empty masks are left out.
    """
    positions = {query: position for position, query in enumerate(report.queries.tolist())}
    labels = []
    for query, class_index, score in report.leaders:
        position = positions.get(query)
        if position is None:
            continue
        mask = report.masks[position].numpy()  # [H, W] bool
        if mask.any():
            labels.append(MaskLabel(mask, query, f"#{query} {class_names[class_index]} {score:.2f}"))
    return labels


def draw_overlay(frame: np.ndarray, report: FrameReport, class_names: Sequence[str]) -> np.ndarray:
    """The frame with the leading tracks of ``report`` drawn on it (see :func:`leader_labels`).

    Args:
        frame: ``[height, width, 3]`` uint8 RGB.
        report: the engine's report of this frame.
        class_names: the name of each contiguous class index.

    Returns:
        ``[height, width, 3]`` uint8 RGB.
    """
    return draw_masks(frame, leader_labels(report, class_names))

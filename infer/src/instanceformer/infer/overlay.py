"""Drawing tracks over frames: coloured masks, track ids, class names and scores."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from instanceformer.core.engine import FrameReport

MASK_OPACITY = 0.5
_GOLDEN_RATIO = 0.618033988749895


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A bright RGB colour for a track id (the same id gets the same colour in every frame)."""
    hue = (track_id * _GOLDEN_RATIO) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.75, 1.0)
    return round(red * 255), round(green * 255), round(blue * 255)


def draw_overlay(frame: np.ndarray, report: FrameReport, class_names: Sequence[str]) -> np.ndarray:
    """The frame with the leading tracks of ``report`` drawn on it.

    A track is drawn when its query is among the frame's candidates: its mask is blended in the track's
    colour and a label ``#<query> <class> <score>`` is written at the mask's top-left corner.

    Args:
        frame: ``[height, width, 3]`` uint8 RGB.
        report: the engine's report of this frame.
        class_names: the name of each contiguous class index.

    Returns:
        ``[height, width, 3]`` uint8 RGB.
    """
    canvas = frame.astype(np.float32)
    positions = {query: position for position, query in enumerate(report.queries.tolist())}
    labels = []
    for query, class_index, score in report.leaders:
        position = positions.get(query)
        if position is None:
            continue
        mask = report.masks[position].numpy()  # [H, W] bool
        if not mask.any():
            continue
        colour = np.array(track_colour(query), dtype=np.float32)
        canvas[mask] = canvas[mask] * (1.0 - MASK_OPACITY) + colour * MASK_OPACITY
        rows, columns = np.nonzero(mask)
        labels.append(
            (int(columns.min()), int(rows.min()), f"#{query} {class_names[class_index]} {score:.2f}", query)
        )
    image = Image.fromarray(canvas.round().clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for left, top, text, query in labels:
        box = draw.textbbox((left, top), text, font=font)
        draw.rectangle(box, fill=track_colour(query))
        draw.text((left, top), text, fill=(0, 0, 0), font=font)
    return np.asarray(image)

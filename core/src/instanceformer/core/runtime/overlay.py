"""Drawing masks with labels over a frame: a tint and an outline in the track's colour, a label above."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from instanceformer.core.runtime.palette import track_colour

MASK_OPACITY = 0.5


@dataclass(frozen=True)
class MaskLabel:
    """One object to draw on a frame.

    Attributes:
        mask: ``[height, width]`` bool.
        colour_key: the key of its colour (the track id).
        text: the label, e.g. ``"#3 giraffe 0.91"``.
    """

    mask: np.ndarray
    colour_key: int
    text: str


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """``[height, width]`` bool: the pixels of ``mask`` with a 4-neighbour outside it."""
    padded = np.pad(mask, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def draw_masks(frame: np.ndarray, labels: Sequence[MaskLabel]) -> np.ndarray:
    """Blend each mask in its colour at :data:`MASK_OPACITY`, outline it, and write its label.

    The label sits on a box of the mask's colour just above the mask's top-left corner (inside the frame).

    Args:
        frame: ``[height, width, 3]`` uint8 RGB.
        labels: the objects, drawn in order (later ones on top).

    Returns:
        A new ``[height, width, 3]`` uint8 RGB image.
    """
    canvas = frame.astype(np.float32)  # [height, width, 3]
    for label in labels:
        colour = np.array(track_colour(label.colour_key), dtype=np.float32)
        canvas[label.mask] = canvas[label.mask] * (1.0 - MASK_OPACITY) + colour * MASK_OPACITY
        canvas[mask_outline(label.mask)] = colour
    image = Image.fromarray(canvas.round().clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for label in labels:
        rows, columns = np.nonzero(label.mask)
        if rows.size == 0:
            continue
        left, top = int(columns.min()), int(rows.min())
        text_box = draw.textbbox((left, top), label.text, font=font)
        text_top = max(0, top - (text_box[3] - text_box[1]) - 2)
        text_box = draw.textbbox((left, text_top), label.text, font=font)
        draw.rectangle(text_box, fill=track_colour(label.colour_key))
        draw.text((left, text_top), label.text, fill=(0, 0, 0), font=font)
    return np.asarray(image)

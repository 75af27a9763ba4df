"""Drawing predicted or ground-truth masks with ids, classes and scores over a frame (pixels, no plots)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from instanceformer.analysis.palette import color_of_uint8

MASK_OPACITY = 0.45
BANNER_HEIGHT = 14


@dataclass(frozen=True)
class MaskLabel:
    """One object to draw on a frame.

    Attributes:
        mask: ``[height, width]`` bool.
        color_key: the key of its colour (the track id).
        text: the label, e.g. ``"#3 giraffe 0.91"``.
    """

    mask: np.ndarray
    color_key: int
    text: str


def _boundary(mask: np.ndarray) -> np.ndarray:
    """``[height, width]`` bool: mask pixels with a 4-neighbour outside the mask."""
    padded = np.pad(mask, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def draw_masks(frame: np.ndarray, labels: Sequence[MaskLabel]) -> np.ndarray:
    """Blend masks, outline them and write their labels.

    Args:
        frame: ``[height, width, 3]`` uint8 RGB.
        labels: the objects, drawn in order (later ones on top).

    Returns:
        A new ``[height, width, 3]`` uint8 RGB image.
    """
    canvas = frame.astype(np.float32)  # [height, width, 3]
    for label in labels:
        color = np.array(color_of_uint8(label.color_key), dtype=np.float32)
        canvas[label.mask] = (1 - MASK_OPACITY) * canvas[label.mask] + MASK_OPACITY * color
        canvas[_boundary(label.mask)] = color
    image = Image.fromarray(canvas.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for label in labels:
        rows, columns = np.nonzero(label.mask)
        if rows.size == 0:
            continue
        left, top = int(columns.min()), int(rows.min())
        text_box = draw.textbbox((left, top), label.text, font=font)
        top = max(0, top - (text_box[3] - text_box[1]) - 2)
        text_box = draw.textbbox((left, top), label.text, font=font)
        draw.rectangle(text_box, fill=color_of_uint8(label.color_key))
        draw.text((left, top), label.text, fill=(0, 0, 0), font=font)
    return np.asarray(image)


def with_banner(frame: np.ndarray, text: str) -> np.ndarray:
    """The frame with a black strip of :data:`BANNER_HEIGHT` pixels on top holding ``text``.

    Args:
        frame: ``[height, width, 3]`` uint8.

    Returns:
        ``[height + BANNER_HEIGHT, width, 3]`` uint8.
    """
    height, width = frame.shape[:2]
    image = Image.new("RGB", (width, height + BANNER_HEIGHT), (0, 0, 0))
    image.paste(Image.fromarray(frame), (0, BANNER_HEIGHT))
    ImageDraw.Draw(image).text((2, 1), text, fill=(255, 255, 255), font=ImageFont.load_default())
    return np.asarray(image)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 4) -> np.ndarray:
    """Two ``[height, width, 3]`` uint8 images of the same height next to each other, ``gap`` pixels apart."""
    height = left.shape[0]
    spacer = np.zeros((height, gap, 3), dtype=np.uint8)
    return np.concatenate([left, spacer, right], axis=1)


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """Pad ``[height, width, 3]`` with black to even height and width (H.264 with yuv420p needs them)."""
    height, width = image.shape[:2]
    return np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)))

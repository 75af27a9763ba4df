"""Composing overlay frames: a title strip, two frames side by side, even sizes for H.264.

The masks themselves are drawn by :func:`instanceformer.core.runtime.overlay.draw_masks`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BANNER_HEIGHT = 14


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

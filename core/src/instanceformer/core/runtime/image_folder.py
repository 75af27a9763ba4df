"""A folder of frame images read as a video: image files in natural name order, decoded as RGB."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from instanceformer.core.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_DIGITS = re.compile(r"(\d+)")


def _natural_key(path: Path) -> list[object]:
    """Sort key of a file name that orders ``frame2`` before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(path.name)]


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` (by :data:`IMAGE_SUFFIXES`, any case) in natural name order.

    Raises:
        UserError: the folder holds no image file.
    """
    files = sorted(
        (path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES),
        key=_natural_key,
    )
    if not files:
        raise UserError(f"{folder}: expected image files ({', '.join(IMAGE_SUFFIXES)}), found none")
    return files


def read_rgb_image(path: Path) -> np.ndarray:
    """Decode an image file as ``[height, width, 3]`` uint8 RGB; a one-line UserError if it is not one."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as problem:
        raise UserError(f"{path}: expected a readable image ({' '.join(str(problem).split())})") from None

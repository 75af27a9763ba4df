"""Decoding frames from disk for training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from instanceformer.core.errors import UserError
from instanceformer.core.runtime.frame_size import format_frame_size


def read_frame(path: str | Path, expected_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Decode an image file (JPEG, PNG, ...) as ``[3, height, width]`` uint8 RGB.

    Args:
        path: the image file.
        expected_size: ``(height, width)`` in pixels that the annotation file declares, or None.

    Raises:
        FileNotFoundError: the file does not exist.
        UserError: the file cannot be decoded, or its size is not ``expected_size``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "frame file not found", str(path))
    try:
        with Image.open(path) as opened:
            pixels = np.array(opened.convert("RGB"))  # [height, width, 3] uint8, writable
    except (UnidentifiedImageError, OSError) as problem:
        raise UserError(f"{path}: expected a decodable image ({' '.join(str(problem).split())})") from None
    image = torch.from_numpy(pixels).permute(2, 0, 1)  # [3, height, width], a channels-last view
    if expected_size is not None and tuple(image.shape[-2:]) != tuple(expected_size):
        raise UserError(
            f"{path}: expected a frame of {format_frame_size(*expected_size)} pixels (width x height, as "
            f"the annotation file declares), got {format_frame_size(image.shape[-2], image.shape[-1])}"
        )
    return image

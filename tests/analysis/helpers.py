"""Checks shared by the analysis tests: decoded images are the right size and not blank."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image


def decoded_png(path: Path) -> np.ndarray:
    """The PNG's pixels ``[height, width, channels]``; asserts it decodes and is not blank."""
    assert path.is_file(), path
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 0, f"{path} is blank"
    return pixels


def decoded_video(path: Path) -> list[np.ndarray]:
    """Every frame of an mp4 or GIF as ``[height, width, 3]`` uint8; asserts the frames are not blank."""
    assert path.is_file(), path
    if path.suffix == ".gif":
        frames = [np.asarray(frame)[..., :3] for frame in imageio.mimread(path)]
    else:
        reader = imageio.get_reader(path, format="FFMPEG")
        try:
            frames = [np.asarray(frame) for frame in reader]
        finally:
            reader.close()
    assert frames and all(frame.std() > 0 for frame in frames), f"{path} has blank frames"
    return frames

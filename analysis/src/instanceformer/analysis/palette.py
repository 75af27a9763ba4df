"""Stable colours per track or category, so a track keeps its colour across frames and figures."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps

_QUALITATIVE = np.concatenate(
    [colormaps["tab20"](np.arange(0, 20, 2))[:, :3], colormaps["tab20"](np.arange(1, 20, 2))[:, :3]]
)  # [20, 3] in [0, 1]: the ten strong tab20 colours first, then their light partners


def color_of(key: int) -> tuple[float, float, float]:
    """An RGB colour in [0, 1] for an integer key (track or category id); 20 distinct colours cycle."""
    red, green, blue = _QUALITATIVE[int(key) % len(_QUALITATIVE)]
    return float(red), float(green), float(blue)


def color_of_uint8(key: int) -> tuple[int, int, int]:
    """The colour of :func:`color_of` as 0-255 integers."""
    return tuple(round(channel * 255) for channel in color_of(key))

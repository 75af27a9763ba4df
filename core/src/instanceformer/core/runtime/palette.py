"""Stable track colours, so a track keeps its colour across frames, overlays and figures."""

from __future__ import annotations

import colorsys

_GOLDEN_RATIO = 0.618033988749895
_SATURATION = 0.75
_VALUE = 1.0


def track_colour_unit(key: int) -> tuple[float, float, float]:
    """A bright RGB colour in [0, 1] for an integer key (a track or category id).

    Hues step by the golden ratio, so neighbouring keys differ strongly and no two keys share a colour;
    full brightness keeps black label text legible on it.
    """
    hue = (int(key) * _GOLDEN_RATIO) % 1.0
    return colorsys.hsv_to_rgb(hue, _SATURATION, _VALUE)


def track_colour(key: int) -> tuple[int, int, int]:
    """The colour of :func:`track_colour_unit` as 0-255 integers."""
    red, green, blue = track_colour_unit(key)
    return round(red * 255), round(green * 255), round(blue * 255)

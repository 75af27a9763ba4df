"""Colours of the analysis figures: the toolkit's track palette, so a track has one colour everywhere."""

from __future__ import annotations

from instanceformer.core.runtime.palette import track_colour_unit


def color_of(key: int) -> tuple[float, float, float]:
    """The matplotlib RGB colour in [0, 1] of a track or category id; the same colour as in overlay videos
    (:func:`~instanceformer.core.runtime.palette.track_colour_unit`)."""
    return track_colour_unit(key)

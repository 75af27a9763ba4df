"""Occluder bands: opaque strips across the whole frame, in front of every object.

A band is scenery, not an annotated object. It covers the pixels whose centres lie within
``half_width`` of its centre line along one axis (``axis`` 0: a vertical band bounded in x; 1: a
horizontal band bounded in y), stays put while the background pans, and removes the pixels it covers
from every object's visible mask. It is shaded like a pillar: a grain along its length and darker edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from instanceformer.dataprep.synth.waves import WaveField

_GRAIN_STRENGTH = 0.12
_EDGE_DARKENING = 0.3
_COLOUR_RANGE = (0.15, 0.65)


@dataclass(frozen=True)
class OccluderBand:
    """A strip in front of the scene: where it lies and how it looks."""

    height: int  # the frame's, pixels
    width: int
    axis: int  # 0: bounded in x (vertical band), 1: bounded in y (horizontal band)
    centre: float  # centre line, pixels along ``axis``
    half_width: float  # pixels
    colour: np.ndarray  # (3,) RGB in [0, 1]
    grain: WaveField  # texture, sampled in pixels

    @cached_property
    def mask(self) -> np.ndarray:
        """The covered pixels ``(height, width)`` bool (read-only)."""
        side = self.width if self.axis == 0 else self.height
        inside = np.abs(np.arange(side) + 0.5 - self.centre) <= self.half_width  # (side,)
        shape = (1, self.width) if self.axis == 0 else (self.height, 1)
        return np.broadcast_to(inside.reshape(shape), (self.height, self.width))

    @cached_property
    def colours(self) -> np.ndarray:
        """The band's colours ``(num_covered, 3)`` float32 at the covered pixels, in row-major order."""
        rows = np.arange(self.height, dtype=np.float32)[:, None] + 0.5  # (height, 1)
        columns = np.arange(self.width, dtype=np.float32)[None, :] + 0.5  # (1, width)
        across = (columns if self.axis == 0 else rows) - np.float32(self.centre)
        edge = 1.0 - _EDGE_DARKENING * (across / np.float32(self.half_width)) ** 2
        shading = (1.0 + _GRAIN_STRENGTH * self.grain(columns, rows)) * edge  # (height, width)
        colours = np.clip(self.colour * shading[..., None], 0.0, 1.0).astype(np.float32)
        return colours[self.mask]

    def paint(self, image: np.ndarray) -> None:
        """Draw the band over ``image`` ``(height, width, 3)`` float32 in place."""
        image[self.mask] = self.colours

    def hides(self, point: np.ndarray, reach: float) -> bool:
        """Whether an object centred at ``point`` ``(2,)`` that lies within ``reach`` of it is covered."""
        return abs(float(point[self.axis]) - self.centre) + reach <= self.half_width

    def clears(self, point: np.ndarray, margin: float) -> bool:
        """Whether ``point`` ``(2,)`` lies outside the band by at least ``margin`` pixels."""
        return abs(float(point[self.axis]) - self.centre) >= self.half_width + margin


def sample_band(
    rng: np.random.Generator,
    height: int,
    width: int,
    axis: int,
    centre_range: tuple[float, float],
    half_width: float,
) -> OccluderBand:
    """Draw a band across ``axis`` of a ``height x width`` frame, its centre uniform in ``centre_range``."""
    centre = rng.uniform(*centre_range) if centre_range[0] < centre_range[1] else sum(centre_range) / 2
    colour = rng.uniform(*_COLOUR_RANGE) * (1.0 + rng.uniform(-0.25, 0.25, 3))
    num_waves = 3
    across = np.array([1.0, 0.0]) if axis == 0 else np.array([0.0, 1.0])  # the grain runs along the band
    grain = WaveField(
        directions=np.tile(across, (num_waves, 1)),
        periods=rng.uniform(0.5 * half_width, 2.0 * half_width, num_waves),
        phases=rng.uniform(0.0, 2.0 * np.pi, num_waves),
        amplitudes=rng.uniform(0.5, 1.0, num_waves),
    )
    return OccluderBand(
        height=height,
        width=width,
        axis=axis,
        centre=float(centre),
        half_width=float(half_width),
        colour=np.clip(colour, 0.0, 1.0).astype(np.float32),
        grain=grain,
    )

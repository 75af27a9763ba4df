"""Textured video backgrounds and the camera pan across them.

A background is a canvas larger than the frame by a margin on every side; each frame shows a window of
it whose offset drifts over time (a slow camera pan that bounces off the canvas edges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instanceformer.dataprep.synth.waves import WaveField

BACKGROUND_KINDS = ("noise", "stripes", "blobs", "gradient")

_MARGIN_FRACTION = 0.12
_MAX_PAN_SPEED = 1.2  # pixels per frame at the reference frame size
_REFERENCE_SIDE = 192.0


@dataclass(frozen=True)
class Background:
    """A background canvas and the per-frame offsets of the visible window."""

    canvas: np.ndarray  # (height + 2 * margin, width + 2 * margin, 3) float32 RGB in [0, 1]
    offsets: np.ndarray  # (num_frames, 2) int window corner (row, column) on the canvas
    height: int
    width: int

    def frame(self, frame_index: int) -> np.ndarray:
        """The visible window ``(height, width, 3)`` float32 of frame ``frame_index`` (a fresh copy)."""
        row, column = self.offsets[frame_index]
        return self.canvas[row : row + self.height, column : column + self.width].copy()


def sample_background(rng: np.random.Generator, height: int, width: int, num_frames: int) -> Background:
    """Draw a textured canvas for a ``height x width`` video of ``num_frames`` frames and its pan path."""
    margin = max(2, int(np.ceil(_MARGIN_FRACTION * max(height, width))))
    canvas_height, canvas_width = height + 2 * margin, width + 2 * margin
    rows = np.arange(canvas_height, dtype=np.float32)[:, None]  # (canvas_height, 1)
    columns = np.arange(canvas_width, dtype=np.float32)[None, :]  # (1, canvas_width)
    scale = min(height, width)

    first, second = _muted_colour(rng), _muted_colour(rng)
    kind = BACKGROUND_KINDS[rng.integers(len(BACKGROUND_KINDS))]
    if kind == "stripes":
        stripes = WaveField.sample(rng, num_waves=1, min_period=0.06 * scale, max_period=0.25 * scale)
        mix = 0.5 + 0.5 * np.tanh(2.5 * stripes(columns, rows))
    elif kind == "gradient":
        mix = _linear_ramp(rng, rows, columns)
    else:
        smooth = WaveField.sample(rng, num_waves=6, min_period=0.3 * scale, max_period=1.5 * scale)
        mix = 0.5 + 0.5 * smooth(columns, rows)
    canvas = first + (second - first) * mix[..., None]  # (canvas_height, canvas_width, 3)
    if kind in ("blobs", "gradient"):
        canvas = _add_blobs(rng, canvas, rows, columns, scale)
    canvas = canvas + 0.08 * (_linear_ramp(rng, rows, columns)[..., None] - 0.5)
    fine = WaveField.sample(rng, num_waves=5, min_period=0.02 * scale, max_period=0.08 * scale)
    canvas = canvas * (1.0 + 0.06 * fine(columns, rows))[..., None]
    canvas = np.clip(canvas, 0.0, 1.0).astype(np.float32)
    return Background(
        canvas=canvas, offsets=_pan_offsets(rng, margin, num_frames, scale), height=height, width=width
    )


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    """A desaturated RGB colour ``(3,)`` of random hue and medium brightness."""
    hue_colour = rng.uniform(0.0, 1.0, 3)
    grey = rng.uniform(0.25, 0.75)
    saturation = rng.uniform(0.15, 0.5)
    return ((1.0 - saturation) * grey + saturation * hue_colour).astype(np.float32)


def _linear_ramp(rng: np.random.Generator, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """A ramp ``(len(rows), len(columns))`` from 0 to 1 along a random direction of the canvas."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    projection = columns * np.cos(angle) + rows * np.sin(angle)
    low, high = projection.min(), projection.max()
    return ((projection - low) / max(high - low, 1e-6)).astype(np.float32)


def _add_blobs(
    rng: np.random.Generator, canvas: np.ndarray, rows: np.ndarray, columns: np.ndarray, scale: float
) -> np.ndarray:
    """Blend 6-15 soft Gaussian blobs of muted colours into ``canvas`` ``(canvas_h, canvas_w, 3)``."""
    canvas_height, canvas_width = canvas.shape[:2]
    for _ in range(int(rng.integers(6, 16))):
        centre_row, centre_column = rng.uniform(0, canvas_height), rng.uniform(0, canvas_width)
        spread = rng.uniform(0.05, 0.25) * scale
        weight = np.exp(-((rows - centre_row) ** 2 + (columns - centre_column) ** 2) / (2.0 * spread**2))
        weight = (rng.uniform(0.4, 0.9) * weight)[..., None].astype(np.float32)
        canvas = (1.0 - weight) * canvas + weight * _muted_colour(rng)
    return canvas


def _pan_offsets(rng: np.random.Generator, margin: int, num_frames: int, scale: float) -> np.ndarray:
    """Window corners ``(num_frames, 2)`` (row, column): constant velocity, bouncing in ``[0, 2 margin]``."""
    span = 2 * margin
    start = rng.uniform(0.0, span, 2)
    velocity = rng.uniform(-_MAX_PAN_SPEED, _MAX_PAN_SPEED, 2) * (scale / _REFERENCE_SIDE)
    travelled = start[None, :] + velocity[None, :] * np.arange(num_frames)[:, None]  # (num_frames, 2)
    folded = np.mod(travelled, 2 * span)
    reflected = np.where(folded > span, 2 * span - folded, folded)
    return np.clip(np.rint(reflected), 0, span).astype(np.int64)

"""Smooth random fields made of a few plane waves: the texture source of backgrounds and objects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WaveField:
    """A sum of plane waves ``sum_k a_k sin(2 pi (x cos t_k + y sin t_k) / p_k + phi_k) / sum_k a_k``.

    Values lie in ``[-1, 1]``. The field is defined everywhere, so it can be sampled in any coordinate
    frame (pixels for backgrounds, an object's local radius units for object textures) and stays
    consistent when that frame moves.
    """

    directions: np.ndarray  # (num_waves, 2) unit vectors (x, y)
    periods: np.ndarray  # (num_waves,) wavelengths in the units of the sampling coordinates
    phases: np.ndarray  # (num_waves,) radians
    amplitudes: np.ndarray  # (num_waves,) positive weights

    @classmethod
    def sample(
        cls, rng: np.random.Generator, num_waves: int, min_period: float, max_period: float
    ) -> WaveField:
        """Draw ``num_waves`` waves of random direction and phase, periods in ``[min_period, max_period]``."""
        angles = rng.uniform(0.0, 2.0 * np.pi, num_waves)
        return cls(
            directions=np.stack([np.cos(angles), np.sin(angles)], axis=1),
            periods=rng.uniform(min_period, max_period, num_waves),
            phases=rng.uniform(0.0, 2.0 * np.pi, num_waves),
            amplitudes=rng.uniform(0.5, 1.0, num_waves),
        )

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The field at points ``(x, y)`` (broadcastable arrays); float32 of their broadcast shape."""
        total = np.zeros(np.broadcast(x, y).shape, dtype=np.float32)
        for direction, period, phase, amplitude in zip(
            self.directions, self.periods, self.phases, self.amplitudes, strict=True
        ):
            argument = (2.0 * np.pi / period) * (x * direction[0] + y * direction[1]) + phase
            total += np.float32(amplitude) * np.sin(argument).astype(np.float32)
        return total / np.float32(self.amplitudes.sum())

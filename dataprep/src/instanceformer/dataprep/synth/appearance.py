"""How an object looks: a colour from a palette shared by all categories, a texture and shading.

The texture is defined in the object's local frame (radius units), so it moves, turns and scales with
the object. Colours are RGB floats in ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instanceformer.dataprep.synth.waves import WaveField

OBJECT_PALETTE = np.array(
    [
        [0.86, 0.16, 0.14],  # red
        [0.95, 0.55, 0.10],  # orange
        [0.94, 0.84, 0.20],  # yellow
        [0.22, 0.70, 0.26],  # green
        [0.10, 0.64, 0.64],  # teal
        [0.16, 0.36, 0.86],  # blue
        [0.56, 0.26, 0.76],  # purple
        [0.95, 0.45, 0.70],  # pink
        [0.93, 0.93, 0.89],  # white
        [0.55, 0.35, 0.18],  # brown
        [0.20, 0.20, 0.24],  # charcoal
    ],
    dtype=np.float32,
)
"""Base colours of objects; every category draws from the whole palette, so colour alone tells no class."""

TEXTURE_KINDS = ("noise", "stripes", "shaded")

_COLOUR_JITTER = 0.05
_SHADING_SLOPE = 0.22
_SHADING_CURVATURE = 0.12
_NOISE_STRENGTH = 0.2
_STRIPE_CONTRAST = (0.35, 0.6)


@dataclass(frozen=True)
class ObjectAppearance:
    """The colour, texture and shading of one object instance."""

    base_colour: np.ndarray  # (3,) RGB in [0, 1]
    texture_kind: str  # one of TEXTURE_KINDS
    texture: WaveField  # sampled in local radius units; a single wave for stripes
    stripe_colour: np.ndarray  # (3,) RGB of the second stripe colour
    light_direction: np.ndarray  # (2,) unit vector (u, v) the shading brightens towards

    def colours(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """RGB colours ``(num_points, 3)`` in ``[0, 1]`` at local points ``u, v`` ``(num_points,)``."""
        if self.texture_kind == "stripes":
            weight = (0.5 + 0.5 * self.texture(u, v))[:, None]  # (num_points, 1)
            colour = (1.0 - weight) * self.base_colour + weight * self.stripe_colour
        elif self.texture_kind == "noise":
            colour = self.base_colour * (1.0 + _NOISE_STRENGTH * self.texture(u, v))[:, None]
        else:
            colour = np.broadcast_to(self.base_colour, (len(u), 3))
        shading = (
            1.0
            + _SHADING_SLOPE * (u * self.light_direction[0] + v * self.light_direction[1])
            - _SHADING_CURVATURE * (u * u + v * v)
        )
        return np.clip(colour * shading[:, None].astype(np.float32), 0.0, 1.0).astype(np.float32)


def sample_appearance(rng: np.random.Generator) -> ObjectAppearance:
    """Draw a random appearance: palette colour with jitter, a texture kind and a light direction."""
    base_colour = OBJECT_PALETTE[rng.integers(len(OBJECT_PALETTE))] + rng.normal(0.0, _COLOUR_JITTER, 3)
    base_colour = np.clip(base_colour, 0.0, 1.0).astype(np.float32)
    texture_kind = TEXTURE_KINDS[rng.integers(len(TEXTURE_KINDS))]
    if texture_kind == "stripes":
        texture = WaveField.sample(rng, num_waves=1, min_period=0.3, max_period=0.7)
    else:
        texture = WaveField.sample(rng, num_waves=4, min_period=0.35, max_period=1.2)
    contrast = rng.uniform(*_STRIPE_CONTRAST)
    darker = rng.random() < 0.5
    stripe_colour = base_colour * (1.0 - contrast) if darker else base_colour + (1.0 - base_colour) * contrast
    light_angle = rng.uniform(0.0, 2.0 * np.pi)
    return ObjectAppearance(
        base_colour=base_colour,
        texture_kind=texture_kind,
        texture=texture,
        stripe_colour=stripe_colour.astype(np.float32),
        light_direction=np.array([np.cos(light_angle), np.sin(light_angle)]),
    )

"""Photometric distortion of training frames (brightness, contrast, saturation, hue)."""

from __future__ import annotations

import math

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from instanceformer.train.data.randomness import SampleRandom

BRIGHTNESS_RANGE = (0.875, 1.125)
CONTRAST_RANGE = (0.5, 1.5)
SATURATION_RANGE = (0.5, 1.5)
HUE_RANGE = (-0.05, 0.05)  # fraction of a full turn: +-18 degrees
APPLY_PROBABILITY = 0.5

# RGB -> YIQ (NTSC): Y is the luma, (I, Q) the chroma plane that a hue change rotates.
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=torch.float64,
)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def hue_rotation_matrix(fraction: float) -> torch.Tensor:
    """The ``[3, 3]`` float32 RGB matrix that turns hues by ``fraction`` of a full turn (YIQ rotation).

    Positive fractions turn the way HSV hue grows (red towards yellow, then green).
    """
    angle = -2.0 * math.pi * fraction  # the (I, Q) plane runs the other way round than HSV hue
    cosine, sine = math.cos(angle), math.sin(angle)
    rotation = torch.tensor([[1.0, 0.0, 0.0], [0.0, cosine, -sine], [0.0, sine, cosine]], dtype=torch.float64)
    return (_YIQ_TO_RGB @ rotation @ _RGB_TO_YIQ).to(torch.float32)


def rotate_hue(image: torch.Tensor, fraction: float) -> torch.Tensor:
    """Turn the hues of ``[3, height, width]`` uint8 RGB by ``fraction`` of a full turn.

    A rotation of the chroma plane in YIQ space: one linear colour transform that keeps grey pixels and
    the luma, several times faster than the HSV round trip of ``adjust_hue``. Returns uint8 of the same
    shape (a ``tv_tensors.Image`` when given one).
    """
    matrix = hue_rotation_matrix(fraction)  # [3, 3]
    rotated = torch.einsum("ij,jhw->ihw", matrix, image.as_subclass(torch.Tensor).float())  # [3, H, W]
    return tv_tensors.wrap(rotated.round_().clamp_(0, 255).to(torch.uint8), like=image)


def distort_photometric(image: torch.Tensor, random: SampleRandom) -> torch.Tensor:
    """Randomly change brightness, contrast, saturation and hue of one frame.

    Each change is applied with probability 0.5; contrast comes either first or last (after
    saturation and hue), as in the SSD-style distortion. Hue turns by :func:`rotate_hue`.

    Args:
        image: ``[3, height, width]`` uint8 RGB (a tensor or ``tv_tensors.Image``).
        random: the sample's random stream.

    Returns:
        ``[3, height, width]`` uint8 ``tv_tensors.Image``.
    """
    image = tv_tensors.Image(image)
    if random.chance(APPLY_PROBABILITY):
        image = F.adjust_brightness(image, random.uniform(*BRIGHTNESS_RANGE))
    contrast_first = random.chance(0.5)
    contrast = random.uniform(*CONTRAST_RANGE) if random.chance(APPLY_PROBABILITY) else None
    if contrast is not None and contrast_first:
        image = F.adjust_contrast(image, contrast)
    if random.chance(APPLY_PROBABILITY):
        image = F.adjust_saturation(image, random.uniform(*SATURATION_RANGE))
    if random.chance(APPLY_PROBABILITY):
        image = rotate_hue(image, random.uniform(*HUE_RANGE))
    if contrast is not None and not contrast_first:
        image = F.adjust_contrast(image, contrast)
    return image

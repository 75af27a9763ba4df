"""Pseudo-videos from still images: the extra frames of a COCO "clip".

Each extra frame is a variant of the image: a random affine warp (always), then with probability 0.5
each a perspective warp, a motion blur and a photometric change. Geometric warps move the image and
its masks together (``torchvision.transforms.v2``; bilinear for the image, nearest for masks); blur
and colour change the image only. The clip's frames (the image and its variants) are shuffled.
"""

from __future__ import annotations

import math

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from instanceformer.train.data.photometric import distort_photometric
from instanceformer.train.data.randomness import SampleRandom

ROTATION_DEGREES = 15.0
TRANSLATION_FRACTION = 0.1
SCALE_RANGE = (0.85, 1.15)
SHEAR_DEGREES = 5.0
PERSPECTIVE_DISTORTION = 0.15  # largest corner displacement, as a fraction of half the side
BLUR_LENGTH_FRACTION = 0.04  # longest motion-blur streak, as a fraction of the short side
VARIANT_PROBABILITY = 0.5
# Warped-in border: the ImageNet mean colour, which normalises to zero.
FILL_COLOUR = [124.0, 116.0, 104.0]


def motion_blur_kernel(length: int, angle_degrees: float) -> torch.Tensor:
    """A ``[length, length]`` float32 kernel summing to 1: a line of ``length`` pixels through the centre."""
    centre = (length - 1) / 2
    kernel = torch.zeros(length, length)
    angle = math.radians(angle_degrees)
    for step in torch.linspace(-centre, centre, 2 * length).tolist():
        row = round(centre - step * math.sin(angle))
        column = round(centre + step * math.cos(angle))
        kernel[row, column] = 1.0
    return kernel / kernel.sum()


def motion_blur(image: torch.Tensor, length: int, angle_degrees: float) -> torch.Tensor:
    """Blur ``[3, height, width]`` uint8 along a direction; returns the same shape and dtype."""
    kernel = motion_blur_kernel(length, angle_degrees)  # [length, length]
    weight = kernel.expand(3, 1, length, length)  # one kernel per channel
    padding = length // 2
    padded = torch.nn.functional.pad(image.float().unsqueeze(0), [padding] * 4, mode="replicate")
    blurred = torch.nn.functional.conv2d(padded, weight, groups=3)  # [1, 3, height, width]
    return tv_tensors.wrap(blurred.squeeze(0).round().clamp(0, 255).to(torch.uint8), like=image)


def _perspective_endpoints(height: int, width: int, random: SampleRandom) -> list[list[int]]:
    """Corners moved inwards by a random amount up to :data:`PERSPECTIVE_DISTORTION`."""
    half_width = int(PERSPECTIVE_DISTORTION * width / 2)
    half_height = int(PERSPECTIVE_DISTORTION * height / 2)

    def inward(limit: int) -> int:
        return random.integer(0, limit)

    return [
        [inward(half_width), inward(half_height)],
        [width - 1 - inward(half_width), inward(half_height)],
        [width - 1 - inward(half_width), height - 1 - inward(half_height)],
        [inward(half_width), height - 1 - inward(half_height)],
    ]


def pseudo_frame(
    image: torch.Tensor, masks: torch.Tensor, random: SampleRandom
) -> tuple[torch.Tensor, torch.Tensor]:
    """One variant of a still image as an extra frame of its pseudo-video.

    Args:
        image: ``[3, height, width]`` uint8 RGB.
        masks: ``[num_instances, height, width]`` uint8 (0/1).
        random: the sample's random stream.

    Returns:
        ``(image, masks)`` with the same shapes and dtypes (plain tensors).
    """
    image, masks = tv_tensors.Image(image), tv_tensors.Mask(masks)
    height, width = image.shape[-2:]
    angle = random.uniform(-ROTATION_DEGREES, ROTATION_DEGREES)
    translate = [
        random.uniform(-TRANSLATION_FRACTION, TRANSLATION_FRACTION) * width,
        random.uniform(-TRANSLATION_FRACTION, TRANSLATION_FRACTION) * height,
    ]
    scale = random.uniform(*SCALE_RANGE)
    shear = [random.uniform(-SHEAR_DEGREES, SHEAR_DEGREES), random.uniform(-SHEAR_DEGREES, SHEAR_DEGREES)]
    image = F.affine(
        image,
        angle=angle,
        translate=translate,
        scale=scale,
        shear=shear,
        interpolation=F.InterpolationMode.BILINEAR,
        fill=FILL_COLOUR,
    )
    masks = F.affine(masks, angle=angle, translate=translate, scale=scale, shear=shear, fill=0)
    if random.chance(VARIANT_PROBABILITY):
        corners = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        endpoints = _perspective_endpoints(height, width, random)
        image = F.perspective(image, corners, endpoints, fill=FILL_COLOUR)
        masks = F.perspective(masks, corners, endpoints, interpolation=F.InterpolationMode.NEAREST, fill=0)
    if random.chance(VARIANT_PROBABILITY):
        longest = max(3, int(BLUR_LENGTH_FRACTION * min(height, width)))
        length = 2 * random.integer(1, max(1, (longest - 1) // 2)) + 1
        image = motion_blur(image, length, random.uniform(0.0, 180.0))
    if random.chance(VARIANT_PROBABILITY):
        image = distort_photometric(image, random)
    return image.as_subclass(torch.Tensor), masks.as_subclass(torch.Tensor)

"""The mask branch (shared per-pixel features) and the per-instance dynamic convolution."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class MaskBranch(nn.Module):
    """Fuse the encoder memory of the backbone levels top-down into low-channel mask features.

    From the coarsest level: 3x3 conv + ReLU, nearest upsample to the next finer level, add that level's
    memory, 3x3 conv + ReLU, ... down to the finest level; then two 3x3 convs (+ ReLU) reduce the
    channels to ``dynamic_channels``. When ``branch_channels`` differs from ``d_model``, 1x1 lateral
    convolutions bring the finer levels to ``branch_channels`` before the addition.
    """

    def __init__(self, d_model: int, branch_channels: int, dynamic_channels: int, num_levels: int):
        super().__init__()
        convs = [nn.Conv2d(d_model, branch_channels, kernel_size=3, padding=1)]
        convs += [nn.Conv2d(branch_channels, branch_channels, 3, padding=1) for _ in range(num_levels - 1)]
        self.fusion_convs = nn.ModuleList(convs)
        self.laterals: nn.ModuleList | None
        if branch_channels != d_model:
            self.laterals = nn.ModuleList(
                nn.Conv2d(d_model, branch_channels, kernel_size=1) for _ in range(num_levels - 1)
            )
        else:
            self.laterals = None
        reduced = max(branch_channels // 4, dynamic_channels)
        self.reduce_convs = nn.ModuleList(
            (
                nn.Conv2d(branch_channels, reduced, kernel_size=3, padding=1),
                nn.Conv2d(reduced, dynamic_channels, kernel_size=3, padding=1),
            )
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight, a=1)
                assert module.bias is not None  # every convolution here has a bias
                nn.init.zeros_(module.bias)

    def forward(self, level_maps: list[torch.Tensor]) -> torch.Tensor:
        """Fuse the levels.

        Args:
            level_maps: ``[batch_size, d_model, height_l, width_l]`` encoder memory per backbone level,
                finest first.

        Returns:
            ``[batch_size, dynamic_channels, height_0, width_0]`` at the finest level's stride.
        """
        fused = F.relu(self.fusion_convs[0](level_maps[-1]))
        finer_levels = list(reversed(level_maps[:-1]))
        for index, level in enumerate(finer_levels):
            lateral = level if self.laterals is None else self.laterals[index](level)
            fused = lateral + F.interpolate(fused, size=level.shape[-2:], mode="nearest")
            fused = F.relu(self.fusion_convs[index + 1](fused))
        for conv in self.reduce_convs:
            fused = F.relu(conv(fused))
        return fused


def dynamic_parameter_sizes(dynamic_channels: int, num_layers: int) -> tuple[list[int], list[int]]:
    """Weight and bias counts of the dynamic 1x1 convolutions: (C+2)->C, C->C ..., C->1."""
    inputs = [dynamic_channels + 2] + [dynamic_channels] * (num_layers - 1)
    outputs = [dynamic_channels] * (num_layers - 1) + [1]
    return [i * o for i, o in zip(inputs, outputs, strict=True)], outputs


def pixel_centres(
    height: int, width: int, stride: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """The input-pixel positions of a feature map's cells: cell ``(i, j)`` is centred at
    ``(stride * j + stride / 2, stride * i + stride / 2)``.

    Returns:
        ``[2, height * width]`` (x, y) of every cell, row-major.
    """
    pixel_y = torch.arange(height, dtype=dtype, device=device) * stride + stride / 2
    pixel_x = torch.arange(width, dtype=dtype, device=device) * stride + stride / 2
    grid_y, grid_x = torch.meshgrid(pixel_y, pixel_x, indexing="ij")  # [h, w]
    return torch.stack((grid_x.flatten(), grid_y.flatten()), dim=0)  # [2, h*w]


def normalised_pixel_centres(height: int, width: int, stride: int, image_sizes: torch.Tensor) -> torch.Tensor:
    """The centres of a feature map's cells (:func:`pixel_centres`) in units of the unpadded image size.

    Args:
        height, width: size of the feature map.
        stride: the map's stride in input pixels.
        image_sizes: ``[batch_size, 2]`` (width, height) of the unpadded image in input pixels.

    Returns:
        ``[batch_size, 2, height * width]`` (x, y) of every cell, row-major.
    """
    pixels = pixel_centres(height, width, stride, image_sizes.dtype, image_sizes.device)  # [2, h*w]
    return pixels[None] / image_sizes[:, :, None]  # [B, 2, h*w]


class RelativeCoordinates(Protocol):
    """How the dynamic convolution's 2 coordinate inputs, ``scale * (centre - pixel)``, are expressed."""

    @property
    def scale(self) -> float:
        """Multiplies the relative coordinates."""
        ...

    def centres_and_pixels(
        self, centres: torch.Tensor, image_sizes: torch.Tensor, height: int, width: int, stride: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Instance centres ``[batch_size, num_instances, 2]`` and cell centres
        ``[batch_size, 2, height * width]`` in the same units, from centres normalised to the unpadded
        image and ``image_sizes [batch_size, 2]`` (width, height) in input pixels."""
        ...


@dataclass(frozen=True)
class ImageFractionCoordinates:
    """The toolkit's coordinates: offsets in units of the unpadded image size, times ``scale``
    (``model.mask_head.coordinate_scale``), so they do not depend on the input resolution."""

    scale: float = 1.0

    def centres_and_pixels(
        self, centres: torch.Tensor, image_sizes: torch.Tensor, height: int, width: int, stride: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :class:`RelativeCoordinates`."""
        return centres, normalised_pixel_centres(height, width, stride, image_sizes)


@dataclass(frozen=True)
class PixelCoordinates:
    """The published coordinates: offsets in input pixels, ``centre * (W, H) - (stride * j + stride / 2,
    stride * i + stride / 2)`` with ``(W, H)`` the unpadded image size."""

    scale: float = 1.0

    def centres_and_pixels(
        self, centres: torch.Tensor, image_sizes: torch.Tensor, height: int, width: int, stride: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :class:`RelativeCoordinates`."""
        pixels = pixel_centres(height, width, stride, image_sizes.dtype, image_sizes.device)  # [2, h*w]
        batch_pixels = pixels[None].expand(image_sizes.shape[0], -1, -1)  # [B, 2, h*w]
        return centres * image_sizes[:, None, :], batch_pixels


def bilinear_upsampling(logits: torch.Tensor, factor: int) -> torch.Tensor:
    """``[batch_size, channels, h, w]`` -> ``[batch_size, channels, h * factor, w * factor]`` by bilinear
    interpolation between cell centres (``align_corners=False``): output cell ``i`` at stride ``s / factor``
    is centred where it lies in the input, ``(s / factor) * (i + 0.5)``."""
    if factor == 1:
        return logits
    return F.interpolate(logits, scale_factor=factor, mode="bilinear", align_corners=False)


def aligned_bilinear(logits: torch.Tensor, factor: int) -> torch.Tensor:
    """The published (CondInst) upsampling: ``[batch_size, channels, h, w]`` ->
    ``[batch_size, channels, h * factor, w * factor]``, interpolating with ``align_corners=True`` on a copy
    with one replicated row and column and shifting by ``factor // 2`` output cells. Output cell ``i``
    holds the input at ``(i - factor // 2) / factor`` input cells where :func:`bilinear_upsampling` holds
    it at ``(i + 0.5) / factor - 0.5``: with factor 2 the masks lie a quarter of an input cell (2 pixels at
    stride 8) further down and right."""
    if factor == 1:
        return logits
    height, width = logits.shape[-2:]
    padded = F.pad(logits, pad=(0, 1, 0, 1), mode="replicate")
    upsampled = F.interpolate(
        padded, size=(factor * height + 1, factor * width + 1), mode="bilinear", align_corners=True
    )
    shifted = F.pad(upsampled, pad=(factor // 2, 0, factor // 2, 0), mode="replicate")
    return shifted[:, :, : factor * height, : factor * width]


def dynamic_mask_logits(
    mask_features: torch.Tensor,
    parameters: torch.Tensor,
    centres: torch.Tensor,
    image_sizes: torch.Tensor,
    feature_stride: int,
    output_stride: int,
    coordinates: RelativeCoordinates = ImageFractionCoordinates(),
    upsampling: Callable[[torch.Tensor, int], torch.Tensor] = bilinear_upsampling,
) -> torch.Tensor:
    """Run each instance's own small network over the shared mask features.

    The parameters of instance ``n`` are split into the weights of ``num_layers`` 1x1 convolutions,
    then their biases (layout (C+2)*C, C*C, ..., C*1, C, C, ..., 1). The first layer reads 2 relative
    coordinates (instance centre minus cell centre, x then y, expressed by ``coordinates``) followed by the
    C mask-feature channels; ReLU between layers.

    Args:
        mask_features: ``[batch_size, channels, height, width]`` at ``feature_stride``.
        parameters: ``[batch_size, num_instances, num_dynamic_parameters]``.
        centres: ``[batch_size, num_instances, 2]`` (x, y) normalised to the unpadded image.
        image_sizes: ``[batch_size, 2]`` (width, height) of the unpadded image in input pixels.
        feature_stride: stride of ``mask_features`` (8 by default).
        output_stride: stride of the returned logits (4 by default); ``upsampling`` bridges the two.
        coordinates: the units of the relative coordinates.
        upsampling: ``(logits, factor) -> logits`` upsampled by ``factor = feature_stride / output_stride``.

    Returns:
        ``[batch_size, num_instances, height * f, width * f]`` mask logits with
        ``f = feature_stride / output_stride``.
    """
    batch_size, channels, height, width = mask_features.shape
    num_instances = parameters.shape[1]
    num_layers = _num_dynamic_layers(parameters.shape[-1], channels)
    weight_sizes, bias_sizes = dynamic_parameter_sizes(channels, num_layers)
    chunks = parameters.split(weight_sizes + bias_sizes, dim=-1)
    weights, biases = chunks[:num_layers], chunks[num_layers:]
    centres, pixels = coordinates.centres_and_pixels(centres, image_sizes, height, width, feature_stride)
    dtype = parameters.dtype
    first_weight = weights[0].reshape(batch_size, num_instances, bias_sizes[0], channels + 2)
    coordinate_weight, feature_weight = first_weight[..., :2], first_weight[..., 2:]  # [B, N, out, 2 | C]
    coordinate_weight = coordinate_weight * coordinates.scale
    # W (centre - pixel) + W' features + b = [W' | -W] [features; pixels] + (W centre + b): one batched
    # matrix product per video over the shared inputs, without materialising per-instance inputs
    stacked_weight = torch.cat((feature_weight, -coordinate_weight), dim=-1)  # [B, N, out, C + 2]
    shared_inputs = torch.cat((mask_features.flatten(2).to(dtype), pixels.to(dtype)), dim=1)  # [B, C+2, HW]
    offset = (coordinate_weight @ centres[..., None].to(dtype)).squeeze(-1) + biases[0]  # [B, N, out]
    hidden = torch.baddbmm(
        offset.reshape(batch_size, num_instances * bias_sizes[0], 1),
        stacked_weight.reshape(batch_size, num_instances * bias_sizes[0], channels + 2),
        shared_inputs,
    )  # [B, N * out, HW]
    for index in range(1, num_layers):
        hidden = F.relu(hidden).reshape(batch_size * num_instances, channels, height * width)
        weight = weights[index].reshape(batch_size * num_instances, bias_sizes[index], channels)
        bias = biases[index].reshape(batch_size * num_instances, bias_sizes[index], 1)
        hidden = torch.baddbmm(bias, weight, hidden)  # [B * N, out, HW]
    logits = hidden.reshape(batch_size, num_instances, height, width)
    return upsampling(logits, feature_stride // output_stride)


@dataclass(frozen=True)
class DynamicMaskHead:
    """The dynamic convolution with its strides, coordinate units and upsampling fixed at build time.

    Attributes:
        feature_stride: stride of the mask features (the finest backbone stride).
        output_stride: stride of the mask logits (``model.mask_head.mask_stride``).
        coordinates: :class:`ImageFractionCoordinates` (toolkit) or :class:`PixelCoordinates` (published).
        upsampling: :func:`bilinear_upsampling` (toolkit) or :func:`aligned_bilinear` (published).
    """

    feature_stride: int
    output_stride: int
    coordinates: RelativeCoordinates = ImageFractionCoordinates()
    upsampling: Callable[[torch.Tensor, int], torch.Tensor] = bilinear_upsampling

    def __call__(
        self,
        mask_features: torch.Tensor,
        parameters: torch.Tensor,
        centres: torch.Tensor,
        image_sizes: torch.Tensor,
    ) -> torch.Tensor:
        """Mask logits ``[batch_size, num_instances, h * f, w * f]``; the arguments are those of
        :func:`dynamic_mask_logits`."""
        return dynamic_mask_logits(
            mask_features,
            parameters,
            centres,
            image_sizes,
            self.feature_stride,
            self.output_stride,
            self.coordinates,
            self.upsampling,
        )


def _num_dynamic_layers(num_parameters: int, channels: int) -> int:
    for num_layers in range(1, 16):
        weights, biases = dynamic_parameter_sizes(channels, num_layers)
        if sum(weights) + sum(biases) == num_parameters:
            return num_layers
    raise ValueError(f"{num_parameters} dynamic parameters do not fit {channels} mask-feature channels")

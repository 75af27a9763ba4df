"""Image backbones (ResNet / ResNeXt / Swin in torchvision's layout) returning multi-stride feature maps.

Basic-block ResNets (``resnet10/18/34``, any first-stage width) come from
:mod:`instanceformer.core.model.basic_resnet`, the others from torchvision.

Nothing is downloaded: torchvision constructors get ``weights=None``. ``model.backbone.weights`` names a
local torchvision-format state dict (for ResNet-50 the file torchvision itself downloads,
``resnet50-0676ba61.pth`` or ``resnet50-11ad3fa6.pth``); :func:`~instanceformer.core.model.build_model`
loads it with :func:`load_backbone_weights`. A :class:`Backbone` on its own never reads a file.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn
from torchvision import models
from torchvision.ops import FrozenBatchNorm2d

from instanceformer.core.config.schema import BackboneConfig
from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.model.basic_resnet import BASIC_BLOCK_LAYERS, BasicBlockResNet
from instanceformer.core.model.multiscale import group_norm

BOTTLENECK_CHANNELS = {4: 256, 8: 512, 16: 1024, 32: 2048}
SWIN_L_CHANNELS = {4: 192, 8: 384, 16: 768, 32: 1536}
RESNET_STAGES = {4: "layer1", 8: "layer2", 16: "layer3", 32: "layer4"}
# the published Swin-L backbone: patch 4, window 12, embedding 192, depths 2/2/18/2, heads 6/12/24/48
SWIN_L_SETTINGS = {
    "patch_size": [4, 4],
    "embed_dim": 192,
    "depths": [2, 2, 18, 2],
    "num_heads": [6, 12, 24, 48],
    "window_size": [12, 12],
}
# classifier keys of a torchvision checkpoint that a backbone does not use
CLASSIFIER_PREFIXES = {"resnet": ("fc.",), "swin": ("norm.", "head.")}
# where a published InstanceFormer checkpoint keeps the torchvision body
PUBLISHED_BODY_PREFIX = "detr.backbone.0.body."


def _norm_layer(config: BackboneConfig) -> Callable[[int], nn.Module]:
    if config.frozen_batchnorm:
        return FrozenBatchNorm2d
    if config.group_norm:
        return group_norm
    return nn.BatchNorm2d


class Backbone(nn.Module):
    """A torchvision classification network cut before its classifier.

    Attributes:
        body: the torchvision network (state-dict keys as in torchvision, minus the classifier).
        strides: the strides of the returned maps, increasing.
        channels: the channels of the returned maps.
    """

    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.name = config.name
        self.strides = tuple(config.return_strides)
        self.family = "swin" if config.name == "swin_l" else "resnet"
        self.output_norms: nn.ModuleList | None
        if self.family == "swin":
            body = models.SwinTransformer(**SWIN_L_SETTINGS)
            del body.norm, body.head, body.avgpool, body.permute, body.flatten
            channel_table = SWIN_L_CHANNELS
            self.output_norms = nn.ModuleList(nn.LayerNorm(channel_table[s]) for s in self.strides)
        elif config.name in BASIC_BLOCK_LAYERS:
            body = BasicBlockResNet(BASIC_BLOCK_LAYERS[config.name], config.stage_width, _norm_layer(config))
            channel_table = dict(zip(RESNET_STAGES, body.stage_channels, strict=True))
            self.output_norms = None
        else:
            constructor = getattr(models, config.name)
            body = constructor(weights=None, norm_layer=_norm_layer(config))
            del body.fc, body.avgpool
            channel_table = BOTTLENECK_CHANNELS
            self.output_norms = None
        self.body = body
        self.channels = tuple(channel_table[s] for s in self.strides)
        self.frozen_modules = self._frozen_modules(config.frozen_stages)
        for module in self.frozen_modules:
            module.requires_grad_(False)

    def _frozen_modules(self, frozen_stages: int) -> list[nn.Module]:
        if frozen_stages == 0:
            return []
        if self.family == "swin":
            # stage i (1-based) is features[2i - 1], preceded by its patch merging features[2i - 2]
            return [self.body.features[index] for index in range(2 * frozen_stages)]
        stem = [self.body.conv1, self.body.bn1]
        return stem + [getattr(self.body, f"layer{stage}") for stage in range(1, frozen_stages + 1)]

    def train(self, mode: bool = True) -> Backbone:
        """Switch modes, keeping frozen stages in evaluation mode (their statistics stay fixed)."""
        super().train(mode)
        for module in self.frozen_modules:
            module.eval()
        return self

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``images [batch_size, 3, height, width]`` -> one ``[batch_size, channels_i, height / s_i,
        width / s_i]`` map per stride ``s_i`` in :attr:`strides` (sizes rounded up)."""
        if self.family == "swin":
            return self._swin_forward(images)
        body = self.body
        hidden = body.maxpool(body.relu(body.bn1(body.conv1(images))))  # stride 4
        outputs = []
        for stride, stage_name in RESNET_STAGES.items():
            hidden = getattr(body, stage_name)(hidden)
            if stride in self.strides:
                outputs.append(hidden)
            if stride == self.strides[-1]:
                break
        return outputs

    def _swin_forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        assert self.output_norms is not None  # built for the swin family
        hidden = images
        outputs = []
        for index, block in enumerate(self.body.features):
            hidden = block(hidden)  # [B, H, W, C] channels last
            if index % 2 == 1:
                stride = 4 * 2 ** (index // 2)
                if stride in self.strides:
                    normed = self.output_norms[self.strides.index(stride)](hidden)
                    outputs.append(normed.permute(0, 3, 1, 2).contiguous())
                if stride == self.strides[-1]:
                    break
        return outputs


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    if not path.is_file():
        raise UserError(f"{path}: no such backbone weights file (model.backbone.weights)")
    try:
        # a published InstanceFormer checkpoint also holds its training arguments (a Namespace)
        with torch.serialization.safe_globals([argparse.Namespace]):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as problem:
        raise FormatError(path, None, None, f"not a loadable state dict ({type(problem).__name__})") from None
    for key in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(isinstance(value, torch.Tensor) for value in loaded.values()):
        raise FormatError(path, None, None, "expected a torchvision state dict of tensors")
    if any(key.startswith(PUBLISHED_BODY_PREFIX) for key in loaded):
        return {
            key.removeprefix(PUBLISHED_BODY_PREFIX): value
            for key, value in loaded.items()
            if key.startswith(PUBLISHED_BODY_PREFIX)
        }
    return loaded


def _short_list(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_backbone_weights(backbone: Backbone, path: str | os.PathLike[str]) -> None:
    """Load a torchvision-format state dict (e.g. ``resnet50-*.pth``) into ``backbone.body``.

    ``path`` may start with ``~``. The file may hold the state dict itself or nest it under ``state_dict``
    or ``model``; a published InstanceFormer checkpoint gives the body under ``detr.backbone.0.body.``
    (the trained backbone of ``ifm-train convert``). The classifier keys (``fc.*`` for ResNets,
    ``norm.*``/``head.*`` for Swin) are ignored; any missing key, unexpected key or shape mismatch is an
    error naming the file and the keys.
    """
    path = Path(path).expanduser()
    loaded = _read_state_dict(path)
    prefixes = CLASSIFIER_PREFIXES[backbone.family]
    wanted = backbone.body.state_dict()
    kept = {key: value for key, value in loaded.items() if not key.startswith(prefixes)}
    kept = {key: value for key, value in kept.items() if not key.endswith("num_batches_tracked")}
    expected = [key for key in wanted if not key.endswith("num_batches_tracked")]
    missing = [key for key in expected if key not in kept]
    unexpected = [key for key in kept if key not in wanted]
    mismatched = [
        f"{key} {tuple(kept[key].shape)} vs {tuple(wanted[key].shape)}"
        for key in expected
        if key in kept and kept[key].shape != wanted[key].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_short_list(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_short_list(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches (file vs {backbone.name}): {_short_list(mismatched)}")
    if problems:
        raise FormatError(path, f"{backbone.name} weights", None, "; ".join(problems))
    backbone.body.load_state_dict(kept, strict=False)

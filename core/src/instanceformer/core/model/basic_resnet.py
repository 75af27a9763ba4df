"""Basic-block ResNets of any depth and width, with torchvision's module names.

torchvision builds ResNet-18/34 with a first-stage width of 64 only. :class:`BasicBlockResNet` takes the
blocks per stage and the first-stage width, so that ``resnet10`` (one block per stage) and narrower
networks for CPU training exist beside them. Its attributes (``conv1``, ``bn1``, ``relu``, ``maxpool``,
``layer1`` ... ``layer4``) and state-dict keys are those of :class:`torchvision.models.ResNet`, so a
width-64 network loads torchvision weights of the same depth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, conv1x1

BASIC_BLOCK_LAYERS = {"resnet10": (1, 1, 1, 1), "resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


class BasicBlockResNet(nn.Module):
    """Stem (7x7 stride-2 convolution, 3x3 stride-2 max pool) and four stages of basic blocks.

    Stage ``i`` (1-based) has ``width * 2**(i - 1)`` channels and stride ``2**(i + 1)``.
    """

    def __init__(
        self,
        blocks_per_stage: Sequence[int],
        width: int = 64,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
    ):
        super().__init__()
        if len(blocks_per_stage) != 4 or min(blocks_per_stage) < 1:
            raise ValueError(f"expected 4 stages of at least one block, got {tuple(blocks_per_stage)}")
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = width
        for stage, num_blocks in enumerate(blocks_per_stage):
            channels = width * 2**stage
            stride = 1 if stage == 0 else 2
            layer = self._stage(in_channels, channels, num_blocks, stride, norm_layer)
            self.add_module(f"layer{stage + 1}", layer)
            in_channels = channels
        self.stage_channels = tuple(width * 2**stage for stage in range(4))
        self._initialise()

    @staticmethod
    def _stage(
        in_channels: int,
        channels: int,
        num_blocks: int,
        stride: int,
        norm_layer: Callable[[int], nn.Module],
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or in_channels != channels:
            downsample = nn.Sequential(conv1x1(in_channels, channels, stride), norm_layer(channels))
        blocks = [BasicBlock(in_channels, channels, stride, downsample, norm_layer=norm_layer)]
        blocks += [BasicBlock(channels, channels, norm_layer=norm_layer) for _ in range(num_blocks - 1)]
        return nn.Sequential(*blocks)

    def _initialise(self) -> None:
        """torchvision's initialisation: Kaiming-normal convolutions, unit-scale normalisation."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images [batch_size, 3, height, width]`` -> the stride-32 map ``[batch_size, 8 * width,
        height / 32, width / 32]`` (the backbone reads the stages one by one instead)."""
        hidden = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        for stage in range(1, 5):
            hidden = getattr(self, f"layer{stage}")(hidden)
        return hidden

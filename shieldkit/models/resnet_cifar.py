"""ResNets with a CIFAR stem (3x3 conv, stride 1, no max-pool), for 32x32 inputs (He et al. 2016)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks: Sequence[int], widths: Sequence[int], num_classes: int, in_chans: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers = []
        in_planes = widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(BasicBlock(in_planes, w, stride))
                in_planes = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


@register_model("resnet8")
def resnet8(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
    """ResNet-8 (16-32-64, one block per stage, ~78k parameters): fast enough for CPU-scale work."""
    return CifarResNet([1, 1, 1], [16, 32, 64], num_classes, in_chans)


@register_model("resnet20")
def resnet20(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
    """ResNet-20 (16-32-64, three blocks per stage, ~0.27M parameters)."""
    return CifarResNet([3, 3, 3], [16, 32, 64], num_classes, in_chans)


@register_model("resnet18")
def resnet18(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
    return CifarResNet([2, 2, 2, 2], [64, 128, 256, 512], num_classes, in_chans)


@register_model("resnet34")
def resnet34(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
    return CifarResNet([3, 4, 6, 3], [64, 128, 256, 512], num_classes, in_chans)

"""Wide ResNets (Zagoruyko & Komodakis 2016) for 32x32 inputs: ``wrn-<depth>-<widen>``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


class WideBlock(nn.Module):
    """Pre-activation block: BN-ReLU-conv-BN-ReLU-conv, 1x1 projection when the shape changes."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        y = self.conv1(o)
        y = self.conv2(F.relu(self.bn2(y)))
        return y + (self.shortcut(o) if self.shortcut is not None else x)


class WideResNet(nn.Module):
    def __init__(self, depth: int, widen: int, num_classes: int, in_chans: int = 3) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError(f"WideResNet depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False)
        layers, in_planes = [], widths[0]
        for stage, w in enumerate(widths[1:]):
            for j in range(n):
                layers.append(WideBlock(in_planes, w, 2 if (stage > 0 and j == 0) else 1))
                in_planes = w
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(in_planes)
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.conv1(x))
        x = F.relu(self.bn(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _wrn(depth: int, widen: int):
    def factory(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
        return WideResNet(depth, widen, num_classes, in_chans)

    factory.__doc__ = f"WRN-{depth}-{widen}."
    return factory


for _depth, _widen in [(16, 4), (16, 8), (28, 10), (34, 10), (40, 2)]:
    register_model(f"wrn-{_depth}-{_widen}")(_wrn(_depth, _widen))

"""MobileNetV2 (Sandler et al. 2018) adapted to 32x32 inputs: stride-1 stem, first two downsamplings removed."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model

# (expansion, out_channels, repeats, stride) -- CIFAR variant: strides of stage 2 and the stem are 1.
_CFG = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class InvertedResidual(nn.Module):
    def __init__(self, in_planes: int, out_planes: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = in_planes * expansion
        self.use_residual = stride == 1 and in_planes == out_planes
        self.block = nn.Sequential(
            nn.Conv2d(in_planes, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_planes, 1, bias=False), nn.BatchNorm2d(out_planes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 10, in_chans: int = 3, width_mult: float = 1.0) -> None:
        super().__init__()
        stem = int(32 * width_mult)
        self.stem = nn.Sequential(nn.Conv2d(in_chans, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU6(True))
        layers, in_planes = [], stem
        for t, c, n, s in _CFG:
            out = int(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(in_planes, out, t, s if i == 0 else 1))
                in_planes = out
        self.layers = nn.Sequential(*layers)
        last = 1280 if width_mult <= 1.0 else int(1280 * width_mult)
        self.head = nn.Sequential(nn.Conv2d(in_planes, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6(True))
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.layers(self.stem(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


@register_model("mobilenetv2")
def mobilenetv2(num_classes: int = 10, in_chans: int = 3, width_mult: float = 1.0) -> nn.Module:
    return MobileNetV2(num_classes, in_chans, width_mult)

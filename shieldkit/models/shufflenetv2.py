"""ShuffleNetV2 (Ma et al. 2018) for 32x32 inputs: stride-1 stem, no max-pool."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model

_WIDTHS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024), 2.0: (244, 488, 976, 2048)}


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


def _conv_bn(i: int, o: int, k: int, s: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(i, o, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(o)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ShuffleBlock(nn.Module):
    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        branch = out_planes // 2
        if stride == 2:
            self.left = nn.Sequential(_conv_bn(in_planes, in_planes, 3, 2, in_planes, relu=False),
                                      _conv_bn(in_planes, branch, 1))
            right_in = in_planes
        else:
            self.left = None
            right_in = branch
        self.right = nn.Sequential(_conv_bn(right_in, branch, 1), _conv_bn(branch, branch, 3, stride, branch, relu=False),
                                   _conv_bn(branch, branch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat([a, self.right(b)], dim=1)
        else:
            out = torch.cat([self.left(x), self.right(x)], dim=1)
        return channel_shuffle(out)


class ShuffleNetV2(nn.Module):
    def __init__(self, num_classes: int = 10, in_chans: int = 3, width: float = 1.0) -> None:
        super().__init__()
        if width not in _WIDTHS:
            raise ValueError(f"ShuffleNetV2 width must be one of {sorted(_WIDTHS)}")
        c2, c3, c4, last = _WIDTHS[width]
        self.stem = _conv_bn(in_chans, 24, 3)
        layers, in_planes = [], 24
        for out, repeats in ((c2, 4), (c3, 8), (c4, 4)):
            for i in range(repeats):
                layers.append(ShuffleBlock(in_planes, out, 2 if i == 0 else 1))
                in_planes = out
        self.layers = nn.Sequential(*layers)
        self.head = _conv_bn(in_planes, last, 1)
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.layers(self.stem(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


@register_model("shufflenetv2")
def shufflenetv2(num_classes: int = 10, in_chans: int = 3, width: float = 1.0) -> nn.Module:
    return ShuffleNetV2(num_classes, in_chans, width)

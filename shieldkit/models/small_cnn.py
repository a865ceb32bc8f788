"""A small plain CNN: the default KD-probe student (fast on CPU, learns quickly from soft labels)."""

from __future__ import annotations

import functools

from torch import nn

from .registry import MODELS, register_model


def _block(i: int, o: int) -> list[nn.Module]:
    return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True), nn.MaxPool2d(2)]


@register_model("cnn3")
def cnn3(num_classes: int = 10, in_chans: int = 3, width: int = 32) -> nn.Module:
    """Three conv-BN-ReLU-pool blocks (width, 2·width, 4·width), global pooling, linear head."""
    return nn.Sequential(*_block(in_chans, width), *_block(width, 2 * width), *_block(2 * width, 4 * width),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes))


# the KD probe's student families: cnn3 at a fixed width, by name (``cnn3-16`` = ``cnn3`` with width 16)
for _width in (8, 16, 32):
    MODELS.add(f"cnn3-{_width}", functools.partial(cnn3, width=_width))

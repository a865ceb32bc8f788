"""A classifier with auxiliary classifiers on its intermediate stages (the Skeptical Student's network).

:func:`with_auxiliary_heads` splits a sequential network (``cnn3`` and its ``cnn3-W`` families) at every spatial
down-sampling layer into stages, and puts a small classifier on every stage but the last: conv 3×3 to the last
stage's width, BatchNorm, ReLU, global average pooling, linear. ``forward`` is the network's own final output, so
the student is scored, exported and attacked like any other; :meth:`AuxiliaryHeads.heads` gives every head.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from .registry import NormalizedClassifier, create_model

DOWNSAMPLING = (nn.MaxPool2d, nn.AvgPool2d)


def _stages(net: nn.Sequential) -> tuple[list[nn.Sequential], nn.Sequential, list[int]]:
    """``net`` as (stages, the pooling-and-linear tail, each stage's output channels)."""
    layers = list(net)
    tail_start = next((i for i, m in enumerate(layers) if isinstance(m, (nn.AdaptiveAvgPool2d, nn.Flatten))), None)
    if tail_start is None:
        raise InputError("auxiliary heads need a sequential network that ends in global pooling and a linear layer")
    stages, current, channels, width = [], [], [], None
    for m in layers[:tail_start]:
        current.append(m)
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
            width = m.out_channels if isinstance(m, nn.Conv2d) else m.num_features
        if isinstance(m, DOWNSAMPLING):
            stages.append(nn.Sequential(*current))
            channels.append(width)
            current = []
    if current:
        stages.append(nn.Sequential(*current))
        channels.append(width)
    if len(stages) < 2 or None in channels:
        raise InputError("auxiliary heads need at least two convolutional stages")
    return stages, nn.Sequential(*layers[tail_start:]), channels


def auxiliary_classifier(in_channels: int, width: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))


class AuxiliaryHeads(nn.Module):
    """``model`` (a :class:`NormalizedClassifier` over a sequential network) with a classifier on each inner stage."""

    def __init__(self, model: NormalizedClassifier) -> None:
        super().__init__()
        if not isinstance(model, NormalizedClassifier) or not isinstance(model.net, nn.Sequential):
            raise InputError(f"auxiliary heads need a sequential network (cnn3, cnn3-W), not "
                             f"{getattr(model, 'arch', type(model).__name__)}")
        stages, tail, channels = _stages(model.net)
        self.stages, self.tail = nn.ModuleList(stages), tail
        self.auxiliary = nn.ModuleList(auxiliary_classifier(c, channels[-1], model.num_classes)
                                       for c in channels[:-1])
        self.register_buffer("mean", model.mean.clone())
        self.register_buffer("std", model.std.clone())
        self.num_classes = model.num_classes

    def heads(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every head's float32 logits, deepest first: ``[final, last inner stage's, ..., first stage's]``."""
        h, inner = (x - self.mean) / self.std, []
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i < len(self.auxiliary):
                inner.append(self.auxiliary[i](h))
        return [z.float() for z in (self.tail(h), *reversed(inner))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = (x - self.mean) / self.std
        for stage in self.stages:
            h = stage(h)
        return self.tail(h).float()


def with_auxiliary_heads(model: NormalizedClassifier) -> AuxiliaryHeads:
    return AuxiliaryHeads(model)


def check_auxiliary_family(family: str) -> str:
    """``family`` (a registered model name) if its network can carry auxiliary heads, else one InputError line."""
    try:
        AuxiliaryHeads(create_model(family, 10))
    except InputError:
        raise InputError(f"the skeptical student needs a sequential family (cnn3-W), not {family!r}") from None
    return family

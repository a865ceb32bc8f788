"""The model registry: ``create_model(name, num_classes=..., **kw)``.

Every model shieldkit builds is wrapped in :class:`NormalizedClassifier`, which takes images in
[0, 1] and normalises inside with the mean/std stored as buffers, so an exported graph needs no
outside preprocessing. Torchvision classifiers are available by name as ``tv:<name>``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from ..errors import InputError, UnknownNameError
from ..registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
register_model = MODELS.register

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class NormalizedClassifier(nn.Module):
    """``forward(x) = net((x - mean) / std)`` for ``x`` in [0, 1], shape (N, C, H, W)."""

    def __init__(self, net: nn.Module, arch: str, num_classes: int, mean: Sequence[float], std: Sequence[float],
                 model_kwargs: dict | None = None) -> None:
        super().__init__()
        self.net = net
        self.arch = arch
        self.num_classes = int(num_classes)
        self.model_kwargs = dict(model_kwargs or {})
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    @property
    def in_chans(self) -> int:
        return self.mean.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def spec(self) -> dict:
        """What is needed to rebuild this model: arch, num_classes, normalisation, extra kwargs."""
        return {
            "arch": self.arch,
            "num_classes": self.num_classes,
            "mean": [float(v) for v in self.mean.flatten()],
            "std": [float(v) for v in self.std.flatten()],
            "model_kwargs": self.model_kwargs,
        }


def _torchvision_factory(name: str) -> Callable[..., nn.Module]:
    import torchvision

    valid = torchvision.models.list_models(module=torchvision.models)
    if name not in valid:
        raise UnknownNameError(f"unknown torchvision model 'tv:{name}'; valid: {', '.join('tv:' + v for v in valid)}")

    def factory(num_classes: int = 1000, in_chans: int = 3, **kw) -> nn.Module:
        if in_chans != 3:
            raise InputError(f"torchvision model tv:{name} takes 3-channel images, not {in_chans}")
        return torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kw)

    return factory


def list_models() -> list[str]:
    """Names ``create_model`` accepts (torchvision models additionally as ``tv:<name>``)."""
    return MODELS.names()


def create_model(name: str, num_classes: int = 10, *, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, in_chans: int | None = None, **kwargs) -> NormalizedClassifier:
    """Build a registered architecture wrapped with its input normalisation.

    ``mean``/``std`` default to ImageNet statistics; ``in_chans`` defaults to ``len(mean)``.
    """
    if mean is None:
        mean = IMAGENET_MEAN if (in_chans or 3) == 3 else (0.5,) * in_chans
    if std is None:
        std = IMAGENET_STD if len(mean) == 3 else (0.5,) * len(mean)
    if len(mean) != len(std):
        raise InputError(f"mean and std differ in length ({len(mean)} vs {len(std)})")
    in_chans = in_chans or len(mean)
    if in_chans != len(mean):
        raise InputError(f"in_chans={in_chans} but mean/std have {len(mean)} channels")
    if num_classes < 2:
        raise InputError(f"num_classes must be at least 2, got {num_classes}")
    factory = _torchvision_factory(name[3:]) if name.startswith("tv:") else MODELS.get(name)
    try:
        net = factory(num_classes=num_classes, in_chans=in_chans, **kwargs)
    except TypeError as e:
        raise InputError(f"bad options for model {name!r}: {e}") from None
    return NormalizedClassifier(net, name, num_classes, mean, std, kwargs)

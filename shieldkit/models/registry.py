"""The model registry: ``create_model(name, num_classes=..., **kw)``.

Every model shieldkit builds is wrapped in :class:`NormalizedClassifier`, which takes images in
[0, 1] and normalises inside with the mean/std stored as buffers, so an exported graph needs no
outside preprocessing. Besides the registered names, ``create_model`` takes

- ``tv:<name>``: a torchvision classifier (random init; a user's weights are loaded afterwards);
- ``timm:<name>``: a timm model, when timm is installed (never pretrained: nothing is downloaded);
- ``package.module:factory``: a user's own network, an import path to a callable returning an
  ``nn.Module``, called with ``num_classes`` (and ``in_chans`` when it accepts it). The name is stored in
  checkpoints and manifests, so later commands rebuild the network by importing that module: importing
  runs the module's code, exactly as ``python -c "import package.module"`` would. The module is looked
  up on ``sys.path`` and then in the current directory.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
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
    """``forward(x) = net((x - mean) / std)`` for ``x`` in [0, 1], shape (N, C, H, W).

    The logits are always float32: under bf16 autocast the network runs in bf16, and every loss and
    target downstream (softmax, ranking margins, KD temperatures) is computed at full precision."""

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
        z = self.net((x - self.mean) / self.std)
        return z if z.dtype == torch.float32 else z.float()

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


def _timm_factory(name: str) -> Callable[..., nn.Module]:
    try:
        import timm
    except ImportError:
        raise InputError(f"timm:{name} needs timm: pip install 'shieldkit[timm]' (or pip install timm)") from None
    if not timm.is_model(name):
        raise UnknownNameError(f"unknown timm model 'timm:{name}' (see timm.list_models())")

    def factory(num_classes: int = 1000, in_chans: int = 3, **kw) -> nn.Module:
        return timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_chans, **kw)

    return factory


def is_import_path(name: str) -> bool:
    """``package.module:factory`` (not ``tv:``/``timm:``)."""
    prefix, sep, attr = name.partition(":")
    return bool(sep) and prefix not in ("tv", "timm") and bool(attr) and all(
        part.isidentifier() for part in prefix.split(".") + attr.split("."))


def _import_factory(name: str) -> Callable[..., nn.Module]:
    """The callable ``package.module:factory`` names, wrapped to take ``num_classes`` and ``in_chans``."""
    module_name, _, attr = name.partition(":")
    missing = InputError(f"--arch {name}: no module {module_name!r} on sys.path or in {os.getcwd()} (set PYTHONPATH "
                         f"to the directory that holds it)")
    try:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is None or not (module_name + ".").startswith(e.name + "."):
                raise  # the user's module imports something that is not installed
            if os.getcwd() in sys.path:
                raise missing from None
            sys.path.append(os.getcwd())  # the console script does not put the current directory on sys.path
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as e2:
                if e2.name is not None and (module_name + ".").startswith(e2.name + "."):
                    raise missing from None
                raise
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 -- the user's module failed while importing: say where
        raise InputError(f"--arch {name}: importing {module_name} raised {type(e).__name__}: {e}") from None
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            raise InputError(f"--arch {name}: {module_name} has no attribute {attr!r}")
    if not callable(fn):
        raise InputError(f"--arch {name}: {attr} is not callable")
    try:
        takes_chans = "in_chans" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes_chans = False

    def factory(num_classes: int = 10, in_chans: int = 3, **kw) -> nn.Module:
        if takes_chans:
            kw["in_chans"] = in_chans
        net = fn(num_classes=num_classes, **kw)
        if not isinstance(net, nn.Module):
            raise InputError(f"--arch {name} returned a {type(net).__name__}, not a torch.nn.Module")
        return net

    return factory


def _check_input_channels(net: nn.Module, name: str, in_chans: int) -> None:
    """A factory that ignores ``in_chans`` would fail on the first batch; say it now."""
    first = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and first.in_channels != in_chans:
        raise InputError(f"model {name!r} takes {first.in_channels}-channel images, but the data has {in_chans} "
                         f"channel(s)")


def wrap_module(net: nn.Module, num_classes: int, mean: Sequence[float], std: Sequence[float]) -> NormalizedClassifier:
    """A user's plain ``nn.Module`` (which takes normalised images) as a shieldkit model that takes [0, 1] images.

    Its architecture name is the import path of its class (``package.module:Class``) when the class is importable
    from its module and takes ``num_classes``, so a saved checkpoint can rebuild it; otherwise the class name
    (a checkpoint of it then needs ``--arch`` to load).
    """
    if isinstance(net, NormalizedClassifier):
        return net
    cls = type(net)
    arch = cls.__qualname__
    module = sys.modules.get(cls.__module__)
    try:
        takes_classes = "num_classes" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        takes_classes = False
    if module is not None and cls.__module__ != "__main__" and getattr(module, cls.__qualname__, None) is cls \
            and takes_classes:
        arch = f"{cls.__module__}:{cls.__qualname__}"
    return NormalizedClassifier(net, arch, num_classes, mean, std)


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
    if name.startswith("tv:"):
        factory = _torchvision_factory(name[3:])
    elif name.startswith("timm:"):
        factory = _timm_factory(name[5:])
    elif is_import_path(name):
        factory = _import_factory(name)
    else:
        factory = MODELS.get(name)
    try:
        net = factory(num_classes=num_classes, in_chans=in_chans, **kwargs)
    except TypeError as e:
        raise InputError(f"bad options for model {name!r}: {e}") from None
    if is_import_path(name):
        _check_input_channels(net, name, in_chans)
    return NormalizedClassifier(net, name, num_classes, mean, std, kwargs)

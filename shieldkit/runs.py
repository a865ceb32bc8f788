"""The run layer: what every training command shares between reading its inputs and writing its outputs.

Resolving data (:func:`as_dataset`, :func:`with_augment`) and models (:func:`as_model`, :func:`load_with_data`),
checking that they fit (:func:`check_compatible`), and finishing a run (:func:`finish_run`: the checkpoint, its
sidecar JSON and the resume file). The facade (:mod:`shieldkit.api`), the exporters and verify build on this
module, never on each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from .checkpoint import ModelInfo, load_model, save_checkpoint
from .data import Dataset, load_dataset, stratified_split
from .data.arrays import Augment, preprocessed
from .data.preprocess import Preprocess
from .distributed import is_main_process
from .engine import FitResult
from .errors import InputError
from .models import NormalizedClassifier, wrap_module
from .models.registry import IMAGENET_MEAN, IMAGENET_STD
from .records import Record
from .utils import sidecar_json, write_json


@dataclass(frozen=True, kw_only=True)
class RunFigures(Record):
    """A training run's figures, typed (the sidecar's ``figures``): every command's test accuracy and time;
    protect's original/protected accuracy and drop; harden's teacher accuracy; a robust run's PGD-20."""

    test_accuracy: float | None = None
    train_seconds: float | None = None
    original_test_accuracy: float | None = None
    protected_test_accuracy: float | None = None
    accuracy_drop: float | None = None
    protect_seconds: float | None = None
    teacher_test_accuracy: float | None = None
    harden_seconds: float | None = None
    seconds_per_epoch: float | None = None
    pgd20_accuracy: float | None = None
    pgd20_n: int | None = None
    pgd20_eps: float | None = None

    @property
    def accuracy(self) -> float | None:
        """The trained model's test accuracy, whichever command trained it."""
        return self.protected_test_accuracy if self.protected_test_accuracy is not None else self.test_accuracy


@dataclass
class RunResult:
    """What a ``train`` / ``protect`` / ``harden`` call produced; ``figures`` as the sidecar has them,
    :attr:`typed_figures` the same as :class:`RunFigures`."""

    model: nn.Module
    figures: dict[str, Any]
    settings: dict[str, Any]
    fit: FitResult
    path: Path | None = None
    history: list[dict] = field(default_factory=list)

    @property
    def typed_figures(self) -> RunFigures:
        return RunFigures.from_dict(self.figures)

    def __repr__(self) -> str:
        figures = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.figures.items())
        return (f"RunResult({self.settings.get('command', 'run')} {getattr(self.model, 'arch', type(self.model).__name__)}"
                f", {len(self.history)} epochs, {figures}, path={str(self.path) if self.path else None})")


def as_dataset(data: str | Dataset, data_dir: str | Path | None = None, download: bool = False,
               image_size: int | None = None, *, resize: int | None = None, center_crop: int | None = None,
               preprocess: Preprocess | None = None) -> Dataset:
    """A loaded dataset: ``data`` itself, or :func:`~shieldkit.data.load_dataset` of a name/path, brought to size by
    ``preprocess`` (or the ``image_size`` / ``resize`` / ``center_crop`` it is made of)."""
    pp = preprocess or Preprocess(image_size, resize, center_crop)
    if isinstance(data, Dataset):
        return preprocessed(data, pp)
    return load_dataset(data, data_dir, download=download, preprocess=pp)


def with_augment(ds: Dataset, augment: str | None) -> Dataset:
    """``ds`` with its training augmentation replaced: ``crop`` (pad-and-crop + the dataset's flip), ``rrc``
    (random-resized-crop + flip, ImageNet style) or ``none``; ``None`` keeps the dataset's own. With ``ds=None``
    only the name is checked."""
    if augment is None:
        return ds
    base = ds.augment if ds is not None else Augment()
    try:
        aug = replace(base, kind=augment, flip=True if augment == "rrc" else base.flip)
    except ValueError as e:  # Augment validates the kind: one message for the CLI and the Python API
        raise InputError(str(e)) from None
    return replace(ds, augment=aug) if ds is not None else None


def as_model(model: str | Path | nn.Module, *, arch: str | None = None, num_classes: int | None = None,
             trust_pickle: bool = False, data: Dataset | None = None, mean: Sequence[float] | None = None,
             std: Sequence[float] | None = None) -> tuple[nn.Module, ModelInfo]:
    """A model and what is known about it, from a file (see :func:`~shieldkit.checkpoint.load_model`) or an
    in-memory module. A plain ``nn.Module`` (one that takes normalised images) is wrapped with ``mean``/``std``
    (default: the statistics of ``data``, else ImageNet's) and ``num_classes`` (default: ``data``'s)."""
    if isinstance(model, NormalizedClassifier):
        return model, ModelInfo(model.arch, model.num_classes, source="<in-memory module>", format="module")
    if isinstance(model, nn.Module):
        n = num_classes or (data.num_classes if data is not None else None)
        if not n:
            raise InputError(f"an in-memory {type(model).__name__}: pass num_classes (or the data) to wrap it")
        m = mean or (data.mean if data is not None else IMAGENET_MEAN)
        s = std or (data.std if data is not None else IMAGENET_STD)
        wrapped = wrap_module(model, n, m, s)
        return wrapped, ModelInfo(wrapped.arch, n, source="<in-memory module>", format="module")
    return load_model(model, arch=arch, num_classes=num_classes, trust_pickle=trust_pickle)


def recorded_preprocess(info: ModelInfo | None) -> Preprocess:
    """How a checkpoint's training data was brought to size (its run settings), else its recorded square input
    size, so that later commands load the data the same way without being told; a no-op when nothing is recorded."""
    if info is None:
        return Preprocess()
    recorded = (info.settings.get("data") or {}).get("preprocess") if isinstance(info.settings, dict) else None
    if recorded:
        return Preprocess.from_dict(recorded)
    shape = info.input_shape
    return Preprocess(image_size=int(shape[1])) if shape and len(shape) == 3 and shape[1] == shape[2] else Preprocess()


def load_with_data(model, data, *, data_dir=None, download: bool = False, image_size: int | None = None,
                   resize: int | None = None, center_crop: int | None = None,
                   arch: str | None = None, num_classes: int | None = None, trust_pickle: bool = False,
                   mean=None, std=None) -> tuple[nn.Module, ModelInfo, Dataset]:
    """A model and its data, each informing the other: a file's recorded preprocessing sets how the data is
    loaded (unless ``image_size``/``resize``/``center_crop`` are given), and the data's statistics wrap a plain
    in-memory ``nn.Module`` or a bare network's weights."""
    given = Preprocess(image_size, resize, center_crop)
    if isinstance(model, nn.Module):
        ds = as_dataset(data, data_dir, download, preprocess=given)
        module, info = as_model(model, arch=arch, num_classes=num_classes, data=ds, mean=mean, std=std)
        return module, info, ds
    module, info = as_model(model, arch=arch, num_classes=num_classes, trust_pickle=trust_pickle)
    ds = as_dataset(data, data_dir, download, preprocess=given if given.active else recorded_preprocess(info))
    if isinstance(module, NormalizedClassifier) and (info.normalization == "default" or mean or std) \
            and len(mean or ds.mean) == module.in_chans:
        # a bare network's weights: it takes images normalised like its data (or as the caller says)
        with torch.no_grad():
            module.mean.copy_(torch.tensor(list(mean or ds.mean)).view_as(module.mean))
            module.std.copy_(torch.tensor(list(std or ds.std)).view_as(module.std))
        info.normalization = "mean/std given" if (mean or std) else f"{ds.name} statistics"
    return module, info, ds


def load_with_settings(model, data, inputs, source) -> tuple[nn.Module, ModelInfo, Dataset]:
    """:func:`load_with_data` with its options from a :class:`~shieldkit.run_settings.DataSettings` (``inputs``)
    and a :class:`~shieldkit.run_settings.ModelSource` (``source``)."""
    return load_with_data(model, data, data_dir=inputs.data_dir, download=inputs.download,
                          image_size=inputs.image_size, resize=inputs.resize, center_crop=inputs.center_crop,
                          arch=source.arch, num_classes=source.num_classes, trust_pickle=source.trust_pickle,
                          mean=source.mean, std=source.std)


def check_compatible(model: nn.Module, info: ModelInfo, data: Dataset) -> None:
    """The model must produce one logit per class of ``data`` for images of its shape."""
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    c, h, w = data.input_shape
    model_chans = getattr(model, "in_chans", c)
    if model_chans != c:  # (x - mean) / std would broadcast 1 channel to 3 without a word
        raise InputError(f"model {info.arch!r} takes {model_chans}-channel images but {data.name} images have {c} "
                         f"channel{'s' if c != 1 else ''} {(c, h, w)}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, c, h, w, device=dev))
    except RuntimeError as e:
        raise InputError(f"model {info.arch!r} cannot take {data.name} images of shape {(c, h, w)}: "
                         f"{str(e).splitlines()[0]}") from None
    finally:
        model.train(was_training)
    if out.dim() != 2 or out.shape[1] != data.num_classes:
        raise InputError(f"model {info.arch!r} outputs {tuple(out.shape[1:])} logits but {data.name} has "
                         f"{data.num_classes} classes")


def data_fraction_subset(ds: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """The dataset with a stratified ``fraction`` of its training split (the limited-data setting)."""
    if fraction >= 1.0:
        return ds
    idx, _ = stratified_split(ds.train.y, fraction, seed)
    return dataclasses.replace(ds, train=ds.train.subset(idx))


def finish_run(out: str | Path | None, model: NormalizedClassifier, data: Dataset, settings: dict, figures: dict,
               result: FitResult, resume_file: Path | None) -> RunResult:
    """Write the checkpoint and its sidecar JSON (settings, figures, history; rank 0 only under torchrun) and
    remove the resume file: the end of every training run."""
    path = None
    if out is not None and is_main_process():  # under torchrun only rank 0 writes
        path = save_checkpoint(out, model, classes=data.classes, input_shape=list(data.input_shape),
                               settings=settings, figures=figures)
        write_json({"settings": settings, "figures": figures, "history": result.history}, sidecar_json(out))
        if resume_file is not None and resume_file.exists():
            resume_file.unlink()
    return RunResult(model, figures, settings, result, path, result.history)


def resume_path(out: str | Path | None) -> Path | None:
    """Where a run writing ``out`` keeps its last finished epoch (``OUT.resume``)."""
    return Path(str(out) + ".resume") if out is not None else None

"""The public API: every CLI command is one call of a function here.

``train`` builds and trains a plain classifier; ``protect`` turns a trained classifier into an
anti-distillation one (RML, or the Nasty Teacher baseline). Both write a shieldkit checkpoint and,
beside it, a JSON file with the full settings and figures of the run.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from .attacks import PGD
from .checkpoint import ModelInfo, load_model, save_checkpoint
from .data import Dataset, load_dataset
from .data.arrays import Augment, preprocessed
from .data.preprocess import Preprocess
from .distributed import is_main_process
from .engine import FitResult, TrainConfig, evaluate, fit
from .errors import InputError
from .methods import PGDAT, TRADES, Nasty, Plain, RML
from .methods.rml import DEFAULT_RECIPE, recipe_settings
from .models import NormalizedClassifier, create_model, wrap_module
from .robustness import pgd20_figures
from .outputs import check_output_file
from .utils import resolve_device, seed_everything, sidecar_json, write_json

PROTECT_METHODS = ("rml", "nasty")
ADVERSARIAL_TRAINING = ("pgd", "trades")


@dataclass
class RunResult:
    """What a ``train``/``protect`` call produced."""

    model: nn.Module
    figures: dict[str, Any]
    settings: dict[str, Any]
    fit: FitResult
    path: Path | None = None
    history: list[dict] = field(default_factory=list)

    def __repr__(self) -> str:
        figures = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.figures.items())
        return (f"RunResult({self.settings.get('command', 'run')} {getattr(self.model, 'arch', type(self.model).__name__)}"
                f", {len(self.history)} epochs, {figures}, path={str(self.path) if self.path else None})")


def _version() -> str:
    from . import __version__

    return __version__


def as_dataset(data: str | Dataset, data_dir: str | Path | None = None, download: bool = False,
               image_size: int | None = None, *, resize: int | None = None, center_crop: int | None = None,
               preprocess: Preprocess | None = None) -> Dataset:
    """A loaded dataset: ``data`` itself, or :func:`~shieldkit.data.load_dataset` of a name/path, brought to size by
    ``preprocess`` (or the ``image_size`` / ``resize`` / ``center_crop`` it is made of)."""
    pp = preprocess or Preprocess(image_size, resize, center_crop)
    if isinstance(data, Dataset):
        return preprocessed(data, pp)
    return load_dataset(data, data_dir, download=download, preprocess=pp)


def check_data_options(image_size=None, resize=None, center_crop=None, augment=None) -> None:
    """Refuse bad preprocessing/augmentation options before any data or model is loaded."""
    Preprocess(image_size, resize, center_crop)
    if augment is not None:
        with_augment(None, augment)


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
        from .models.registry import IMAGENET_MEAN, IMAGENET_STD

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


def adversarial_method(kind: str, eps: float, steps: int, step_size: float, trades_beta: float = 6.0):
    """The robust-training step for ``train --adversarial``: PGD-AT (``pgd``) or TRADES (``trades``)."""
    if kind not in ADVERSARIAL_TRAINING:
        raise InputError(f"unknown adversarial training {kind!r}; valid: {', '.join(ADVERSARIAL_TRAINING)}")
    attack = make_pgd(eps, step_size, steps, loss="ce" if kind == "pgd" else "kl")
    return PGDAT(attack) if kind == "pgd" else TRADES(trades_beta, attack)


def make_pgd(eps: float, step_size: float, steps: int, loss: str = "ce") -> PGD:
    """A PGD attack, with bad settings reported as one line."""
    try:
        return PGD(eps=eps, alpha=step_size, steps=steps, loss=loss)
    except ValueError as e:
        raise InputError(str(e)) from None


def _finish(out: str | Path | None, model: NormalizedClassifier, data: Dataset, settings: dict, figures: dict,
            result: FitResult, resume_path: Path | None) -> RunResult:
    path = None
    if out is not None and is_main_process():  # under torchrun only rank 0 writes
        path = save_checkpoint(out, model, classes=data.classes, input_shape=list(data.input_shape),
                               settings=settings, figures=figures)
        write_json({"settings": settings, "figures": figures, "history": result.history}, sidecar_json(out))
        if resume_path is not None and resume_path.exists():
            resume_path.unlink()
    return RunResult(model, figures, settings, result, path, result.history)


def _resume_path(out: str | Path | None) -> Path | None:
    return Path(str(out) + ".resume") if out is not None else None


def train(arch: str, data: str | Dataset = "digits", *, out: str | Path | None = None, epochs: int = 30,
          batch_size: int = 128, lr: float = 0.1, weight_decay: float = 5e-4, schedule: str = "cosine",
          label_smoothing: float = 0.0, seed: int = 0, device: str = "auto", data_dir: str | Path | None = None,
          download: bool = False, resume: bool = False, progress: bool = True,
          model_kwargs: dict | None = None, adversarial: str | None = None, eps: float = 8 / 255,
          attack_steps: int = 10, attack_step_size: float = 2 / 255, trades_beta: float = 6.0,
          compile: bool = False, loader: str = "device", workers: int = 2,
          image_size: int | None = None, resize: int | None = None, center_crop: int | None = None,
          augment: str | None = None) -> RunResult:
    """Train a classifier ``arch`` on ``data``; save it to ``out``.

    Plain cross-entropy by default; ``adversarial="pgd"`` (PGD-AT) or ``"trades"`` trains a robust
    model (a teacher for ``harden``) against ℓ∞ PGD with ``eps``, ``attack_steps`` and ``attack_step_size``.
    """
    check_output_file(out)
    check_data_options(image_size, resize, center_crop, augment)
    method = adversarial_method(adversarial, eps, attack_steps, attack_step_size, trades_beta) if adversarial \
        else Plain(label_smoothing)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule,
                      seed=seed, device=device, compile=compile, loader=loader, workers=workers)
    ds = with_augment(as_dataset(data, data_dir, download, image_size, resize=resize, center_crop=center_crop),
                      augment)
    seed_everything(seed)
    model = create_model(arch, ds.num_classes, mean=ds.mean, std=ds.std, **(model_kwargs or {}))
    check_compatible(model, ModelInfo(arch, ds.num_classes), ds)
    settings = {"command": "train", "shieldkit_version": _version(), "arch": arch, "model_kwargs": model_kwargs or {},
                "data": ds.describe(), "train": asdict(cfg), "method": method.settings()}
    resume_path = _resume_path(out)
    result = fit(model, method, ds, cfg, resume_path=resume_path, resume=resume, progress=progress,
                 description=f"train {arch}" + (f" ({adversarial})" if adversarial else ""),
                 run_settings={"arch": arch, "data": ds.name})
    figures = {"test_accuracy": result.test_accuracy, "train_seconds": result.seconds}
    if adversarial:
        figures.update(pgd20_figures(model, ds, 1000, eps, attack_step_size))
    return _finish(out, model, ds, settings, figures, result, resume_path)


def protect(model: str | Path | nn.Module, data: str | Dataset = "digits", *, out: str | Path | None = None,
            method: str = "rml", recipe: str = DEFAULT_RECIPE, alpha: float | None = None,
            beta: float | None = None, tau: float | None = None, negatives: str | None = None,
            confidence: str | float | None = None, ce_weight: float | None = None, flatness: float | None = None,
            use_labels: bool = True, omega: float = 0.04, epochs: int | None = None, lr: float | None = None,
            batch_size: int = 128, weight_decay: float = 5e-4, seed: int = 0, device: str = "auto",
            data_dir: str | Path | None = None, download: bool = False, resume: bool = False, progress: bool = True,
            arch: str | None = None, num_classes: int | None = None, trust_pickle: bool = False,
            compile: bool = False, loader: str = "device", workers: int = 2, adversarial_steps: int = 0,
            eps: float = 8 / 255, attack_step_size: float = 2 / 255, adv_weight: float = 1.0,
            mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
            image_size: int | None = None, resize: int | None = None, center_crop: int | None = None,
            augment: str | None = None) -> RunResult:
    """Protect a trained classifier against distillation; save the protected model to ``out``.

    ``method="rml"`` fine-tunes a copy of the model with the RML loss (defaults: 5 epochs, lr 0.01), with the
    settings of ``recipe`` (:data:`shieldkit.methods.rml.RECIPES`; ``"uniform"`` by default, ``"rml-paper"`` for
    the paper's reading) and any of ``alpha, beta, tau, negatives, confidence, ce_weight, flatness`` that is
    given replacing the recipe's value;
    ``method="nasty"`` trains a Nasty Teacher of the same architecture from scratch against the
    model (defaults: 30 epochs, lr 0.1). Test accuracy of original and protected is measured and stored.
    ``adversarial_steps`` > 0 (robust RML, for a hardened model) adds ``adv_weight``·CE on PGD examples
    (``eps``, ``attack_step_size``) so that protection does not erode robustness; PGD-20 is then stored too.
    ``model`` may be a plain ``nn.Module`` taking normalised images: it is wrapped with ``mean``/``std``
    (default: the data's statistics), see :func:`as_model`.
    """
    check_output_file(out)
    check_data_options(image_size, resize, center_crop, augment)
    if method not in PROTECT_METHODS:
        raise InputError(f"unknown protection method {method!r}; valid: {', '.join(PROTECT_METHODS)}")
    try:
        rml = recipe_settings(recipe, alpha=alpha, beta=beta, tau=tau, negatives=negatives, confidence=confidence,
                              ce_weight=ce_weight, flatness=flatness)
        if method == "rml":  # validate every setting before any data or model is loaded
            RML(nn.Identity(), use_labels=use_labels, **rml)
    except ValueError as e:
        raise InputError(str(e)) from None
    if not (omega >= 0):
        raise InputError(f"omega must be >= 0, got {omega}")
    if tau is not None and not (0 < tau < float("inf")):
        raise InputError(f"tau must be a positive number, got {tau}")
    resolve_device(device)
    original, info, ds = load_with_data(model, data, data_dir=data_dir, download=download, image_size=image_size,
                                        resize=resize, center_crop=center_crop,
                                        arch=arch, num_classes=num_classes, trust_pickle=trust_pickle, mean=mean,
                                        std=std)
    if not isinstance(original, NormalizedClassifier):
        raise InputError(f"{info.source}: protect needs a model it can rebuild (a shieldkit checkpoint, a "
                         f"state_dict/safetensors file with --arch and --num-classes, or an nn.Module in Python), "
                         f"not a {info.format or type(original).__name__} module")
    ds = with_augment(ds, augment)
    check_compatible(original, info, ds)
    epochs = epochs if epochs is not None else (5 if method == "rml" else 30)
    lr = lr if lr is not None else (0.01 if method == "rml" else 0.1)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed, device=device,
                      compile=compile, loader=loader, workers=workers)
    seed_everything(seed)
    original = original.eval()
    if method == "rml":
        protected = copy.deepcopy(original).requires_grad_(True)  # the original may arrive frozen (e.g. a teacher)
        attack = make_pgd(eps, attack_step_size, adversarial_steps) if adversarial_steps > 0 else None
        step = RML(original, use_labels=use_labels, attack=attack, adv_weight=adv_weight, **rml)
    else:
        protected = create_model(original.arch, original.num_classes, mean=original.spec()["mean"],
                                 std=original.spec()["std"], **original.model_kwargs)
        step = Nasty(original, tau=tau if tau is not None else 4.0, omega=omega)
    dev = resolve_device(device)
    acc_original = evaluate(original.to(dev), ds.test, device=dev)["accuracy"]
    settings = {"command": "protect", "shieldkit_version": _version(), "original": info.source, "arch": original.arch,
                "normalization": {"source": info.normalization, "mean": original.spec()["mean"],
                                  "std": original.spec()["std"]},
                "data": ds.describe(), "train": asdict(cfg),
                "method": {**step.settings(), **({"recipe": recipe} if method == "rml" else {})}}
    resume_path = _resume_path(out)
    t0 = time.perf_counter()
    result = fit(protected, step, ds, cfg, resume_path=resume_path, resume=resume, progress=progress,
                 description=f"protect ({method})", run_settings={"arch": original.arch, "data": ds.name,
                                                                  "original": info.source})
    figures = {"original_test_accuracy": acc_original, "protected_test_accuracy": result.test_accuracy,
               "accuracy_drop": acc_original - result.test_accuracy, "protect_seconds": time.perf_counter() - t0}
    if adversarial_steps > 0:
        figures.update(pgd20_figures(protected, ds, 1000, eps, attack_step_size))
    return _finish(out, protected, ds, settings, figures, result, resume_path)

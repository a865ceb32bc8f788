"""``harden``: distil a robust teacher into a lightweight student under ℓ∞ attack (ARD and its baselines).

Every method runs through the same engine, attack and budget (epochs, batch, PGD steps), so the
numbers they produce compare: ``ard`` (ranking distillation, docs/ard.md), ``rslad``,
``ard-goldblum`` and ``at`` (PGD-AT of the student alone, no teacher).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from torch import nn

from .api import (RunResult, _finish, _resume_path, _version, adversarial_method, as_dataset, load_with_data,
                  check_data_options, with_augment,
                  check_compatible, make_pgd)
from .data import Dataset, stratified_split
from .engine import TrainConfig, evaluate, fit
from .errors import InputError
from .losses.adversarial import ARD_LEVELS
from .methods import ARD, RSLAD, ARDGoldblum, Method
from .models import NormalizedClassifier, create_model
from .outputs import check_output_file
from .robustness import pgd20_figures
from .utils import resolve_device, seed_everything

HARDEN_METHODS = ("ard", "rslad", "ard-goldblum", "at")


def parse_levels(levels: str | Sequence[str]) -> tuple[str, ...]:
    """``"cat,sample,disc"`` (or a sequence) → a tuple of ARD levels, checked."""
    items = [s.strip() for s in levels.split(",")] if isinstance(levels, str) else list(levels)
    items = [s for s in items if s and s != "none"]
    bad = [s for s in items if s not in ARD_LEVELS]
    if bad:
        raise InputError(f"unknown ARD level(s) {bad}; valid: {', '.join(ARD_LEVELS)} (or 'none')")
    return tuple(dict.fromkeys(items))


def parse_floats(values: str | Sequence[float], n: int, what: str) -> tuple[float, ...]:
    items = [s for s in values.split(",") if s.strip()] if isinstance(values, str) else list(values)
    try:
        out = tuple(float(v) for v in items)
    except ValueError:
        raise InputError(f"{what} must be {n} comma-separated numbers, got {values!r}") from None
    if len(out) != n:
        raise InputError(f"{what} must be {n} comma-separated numbers, got {values!r}")
    return out


def data_fraction_subset(ds: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """The dataset with a stratified ``fraction`` of its training split (the limited-data setting)."""
    if fraction >= 1.0:
        return ds
    idx, _ = stratified_split(ds.train.y, fraction, seed)
    return dataclasses.replace(ds, train=ds.train.subset(idx))


def harden_method(method: str, teacher: nn.Module | None, *, eps: float, step_size: float, steps: int,
                  levels=ARD_LEVELS, lambdas=(1.0, 1.0, 1.0), gamma: float = 1.0, inner: str = "kl",
                  base: str = "rslad", goldblum_alpha: float = 1.0, goldblum_tau: float = 30.0) -> Method:
    """The training step of one ``harden`` method, all with the same PGD budget."""
    if method == "at":
        return adversarial_method("pgd", eps, steps, step_size)
    if teacher is None:
        raise InputError(f"--method {method} needs a --teacher")
    if method == "rslad":
        return RSLAD(teacher, make_pgd(eps, step_size, steps, "kl"))
    if method == "ard-goldblum":
        return ARDGoldblum(teacher, goldblum_alpha, goldblum_tau, make_pgd(eps, step_size, steps, "ce"))
    if method == "ard":
        if inner not in ("kl", "ce"):
            raise InputError(f"ARD inner maximisation must be kl or ce, got {inner!r}")
        if base not in ("rslad", "ce", "none"):
            raise InputError(f"ARD base loss must be rslad, ce or none, got {base!r}")
        if base == "none" and not levels:
            raise InputError("ARD with --base none needs at least one ranking level")
        if gamma <= 0:
            raise InputError(f"gamma must be > 0, got {gamma}")
        return ARD(teacher, levels=levels, lambdas=lambdas, gamma=gamma, base=base,
                   attack=make_pgd(eps, step_size, steps, inner))
    raise InputError(f"unknown harden method {method!r}; valid: {', '.join(HARDEN_METHODS)}")


def harden(teacher: str | Path | nn.Module | None, data: str | Dataset = "digits", *, student: str = "mobilenetv2",
           out: str | Path | None = None, method: str = "ard", levels: str | Sequence[str] = ARD_LEVELS,
           lambdas: str | Sequence[float] = (1.0, 1.0, 1.0), gamma: float = 1.0, inner: str = "kl",
           base: str = "rslad", goldblum_alpha: float = 1.0, goldblum_tau: float = 30.0, eps: float = 8 / 255,
           attack_steps: int = 10, attack_step_size: float = 2 / 255, data_fraction: float = 1.0, epochs: int = 30,
           batch_size: int = 128, lr: float = 0.1, weight_decay: float = 5e-4, schedule: str = "cosine",
           seed: int = 0, device: str = "auto", data_dir: str | Path | None = None, download: bool = False,
           resume: bool = False, progress: bool = True, student_kwargs: dict | None = None,
           arch: str | None = None, num_classes: int | None = None, trust_pickle: bool = False,
           compile: bool = False, loader: str = "device", workers: int = 2, eval_n: int = 1000,
           image_size: int | None = None, resize: int | None = None, center_crop: int | None = None,
           augment: str | None = None) -> RunResult:
    """Train a fresh ``student`` to be robust, distilled from a robust ``teacher`` with ``method``; save to ``out``.

    ``levels``/``lambdas``/``gamma`` configure ARD's ranking terms (cat, sample, disc); ``inner``
    picks ARD's attack objective (KL to the teacher, or CE); ``data_fraction`` < 1 trains on a
    stratified part of the training split. Teacher and student clean accuracy, and the student's PGD-20
    accuracy on ``eval_n`` test images (0: skip), are stored as figures.
    """
    check_output_file(out)
    check_data_options(image_size, resize, center_crop, augment)
    if method not in HARDEN_METHODS:
        raise InputError(f"unknown harden method {method!r}; valid: {', '.join(HARDEN_METHODS)}")
    if teacher is None and method != "at":
        raise InputError(f"--method {method} needs a --teacher")
    if not 0.0 < data_fraction <= 1.0:
        raise InputError(f"--data-fraction must be in (0, 1], got {data_fraction}")
    resolve_device(device)
    levels = parse_levels(levels)
    lambdas = parse_floats(lambdas, 3, "--lambdas (cat, sample, disc)")
    dev = resolve_device(device)
    teacher_model, info = (None, None)
    if teacher is not None:
        teacher_model, info, ds = load_with_data(teacher, data, data_dir=data_dir, download=download,
                                                 image_size=image_size, resize=resize, center_crop=center_crop,
                                                 arch=arch, num_classes=num_classes,
                                                 trust_pickle=trust_pickle)
        check_compatible(teacher_model, info, ds)
        teacher_model = teacher_model.eval()
    else:
        ds = as_dataset(data, data_dir, download, image_size, resize=resize, center_crop=center_crop)
    ds = with_augment(ds, augment)
    seed_everything(seed)
    step = harden_method(method, teacher_model, eps=eps, step_size=attack_step_size, steps=attack_steps,
                         levels=levels, lambdas=lambdas, gamma=gamma, inner=inner, base=base,
                         goldblum_alpha=goldblum_alpha, goldblum_tau=goldblum_tau)
    model = create_model(student, ds.num_classes, mean=ds.mean, std=ds.std, **(student_kwargs or {}))
    if not isinstance(model, NormalizedClassifier):
        raise InputError(f"student {student!r} is not a shieldkit model")
    train_ds = data_fraction_subset(ds, data_fraction, seed)
    cfg = TrainConfig(epochs=epochs, batch_size=min(batch_size, len(train_ds.train)), lr=lr,
                      weight_decay=weight_decay, schedule=schedule, seed=seed, device=device, compile=compile, loader=loader, workers=workers)
    teacher_acc = evaluate(teacher_model.to(dev), ds.test, device=dev)["accuracy"] if teacher_model is not None \
        else None
    settings = {"command": "harden", "shieldkit_version": _version(), "teacher": info.source if info else None,
                "teacher_arch": info.arch if info else None, "arch": student, "model_kwargs": student_kwargs or {},
                "data": ds.describe(), "data_fraction": data_fraction, "train_images": len(train_ds.train),
                "train": asdict(cfg), "method": step.settings()}
    resume_path = _resume_path(out)
    t0 = time.perf_counter()
    result = fit(model, step, train_ds, cfg, resume_path=resume_path, resume=resume, progress=progress,
                 description=f"harden {student} ({method})",
                 run_settings={"arch": student, "data": ds.name, "teacher": info.source if info else None,
                               "data_fraction": data_fraction})
    seconds = time.perf_counter() - t0
    epochs_run = max(1, epochs - result.resumed_from_epoch)
    figures = {"test_accuracy": result.test_accuracy, "teacher_test_accuracy": teacher_acc, "harden_seconds": seconds,
               "seconds_per_epoch": seconds / epochs_run, **pgd20_figures(model, ds, eval_n, eps, attack_step_size)}
    return _finish(out, model, ds, settings, figures, result, resume_path)

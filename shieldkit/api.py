"""The training commands, side by side: ``train``, ``protect`` and ``harden``; each CLI command is one call here.

``train`` builds and trains a classifier (plain, or adversarially: a robust teacher); ``protect`` turns a trained
classifier into an anti-distillation one (RML, or the Nasty Teacher baseline); ``harden`` distils a robust teacher
into a lightweight robust student (ARD and its baselines). Methods are chosen by name from the registries of
:mod:`shieldkit.methods.options`. Each call writes a shieldkit checkpoint and, beside it, a JSON file with the full
settings (including ``options``: the call's own arguments, which ``--config`` reads back to repeat the run) and
the figures of the run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from torch import nn

from .attacks import DEFAULT_EPS, DEFAULT_STEP_SIZE
from .checkpoint import ModelInfo
from .data import Dataset
from .engine import TrainConfig, clean_accuracy, fit
from .errors import InputError
from .former_names import accepts_former_names
from .losses.adversarial import ARD_LEVELS
from .methods import (ADVERSARIAL_TRAINING, HARDENING, PROTECTIONS, AttackOptions, HardenOptions, Plain,
                      ProtectOptions, adversarial_training)
from .methods.rml import DEFAULT_RECIPE, RMLSettings
from .models import NormalizedClassifier, create_model
from .output_heads import PROTECT_HEAD, check_head
from .outputs import check_output_file
from .robustness import pgd20_figures
from .runs import (RunResult, as_dataset, check_compatible, check_data_options, data_fraction_subset, finish_run,
                   load_with_data, resume_path, with_augment)
from .utils import resolve_device, seed_everything
from .version import __version__

NOT_RECORDED = ("out", "resume", "progress")  # what --config does not replay: where to write, and how to show it


def recorded_options(arguments: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments as JSON values for its sidecar (``settings.options``): paths as strings, an in-memory
    model or dataset by what it is, tuples as lists; ``out``/``resume``/``progress`` left out."""
    def plain(value):
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, nn.Module):
            return f"<in-memory {type(value).__name__}>"
        if isinstance(value, Dataset):
            return value.name
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if is_dataclass(value) and not isinstance(value, type):
            return asdict(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {k: plain(v) for k, v in arguments.items() if k not in NOT_RECORDED}


@accepts_former_names("train")
def train(arch: str, data: str | Dataset, *, out: str | Path | None = None, epochs: int = 30,
          batch_size: int = 128, lr: float = 0.1, weight_decay: float = 5e-4, schedule: str = "cosine",
          label_smoothing: float = 0.0, seed: int = 0, device: str = "auto", data_dir: str | Path | None = None,
          download: bool = False, resume: bool = False, progress: bool = True,
          model_kwargs: dict | None = None, adversarial: str | None = None, eps: float = DEFAULT_EPS,
          steps: int = 10, step_size: float = DEFAULT_STEP_SIZE, trades_beta: float = 6.0,
          compile: bool = False, precision: str = "auto", loader: str = "device", workers: int = 2,
          image_size: int | None = None, resize: int | None = None, center_crop: int | None = None,
          augment: str | None = None) -> RunResult:
    """Train a classifier ``arch`` on ``data``; save it to ``out``.

    Plain cross-entropy by default; ``adversarial`` names a robust-training method of
    :data:`~shieldkit.methods.ADVERSARIAL_TRAINING` (``pgd-at``, ``trades``) that trains a robust model (a teacher for
    ``harden``) against ℓ∞ PGD with ``eps``, ``steps`` and ``step_size``.
    """
    options = recorded_options(locals())
    check_output_file(out)
    check_data_options(image_size, resize, center_crop, augment)
    attack = AttackOptions(eps, step_size, steps)
    if adversarial:
        adversarial = ADVERSARIAL_TRAINING.canonical(adversarial)
    method = adversarial_training(adversarial, attack, trades_beta) if adversarial else Plain(label_smoothing)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule,
                      seed=seed, device=device, compile=compile, precision=precision, loader=loader,
                      workers=workers)
    ds = with_augment(as_dataset(data, data_dir, download, image_size, resize=resize, center_crop=center_crop),
                      augment)
    seed_everything(seed)
    model = create_model(arch, ds.num_classes, mean=ds.mean, std=ds.std, **(model_kwargs or {}))
    check_compatible(model, ModelInfo(arch, ds.num_classes), ds)
    settings = {"command": "train", "shieldkit_version": __version__, "arch": arch,
                "model_kwargs": model_kwargs or {}, "data": ds.describe(), "train": asdict(cfg),
                "method": method.settings(), "options": options}
    resume_file = resume_path(out)
    result = fit(model, method, ds, cfg, resume_path=resume_file, resume=resume, progress=progress,
                 description=f"train {arch}" + (f" ({adversarial})" if adversarial else ""),
                 run_settings={"arch": arch, "data": ds.name})
    figures = {"test_accuracy": result.test_accuracy, "train_seconds": result.seconds}
    if adversarial:
        figures.update(pgd20_figures(model, ds, 1000, eps, step_size))
    return finish_run(out, model, ds, settings, figures, result, resume_file)


@accepts_former_names("protect")
def protect(model: str | Path | nn.Module, data: str | Dataset, *, out: str | Path | None = None,
            method: str = "rml", recipe: str = DEFAULT_RECIPE, rml: RMLSettings | Mapping[str, Any] | None = None,
            use_labels: bool = True, omega: float = 0.04, epochs: int | None = None, lr: float | None = None,
            batch_size: int = 128, weight_decay: float = 5e-4, seed: int = 0, device: str = "auto",
            data_dir: str | Path | None = None, download: bool = False, resume: bool = False, progress: bool = True,
            arch: str | None = None, num_classes: int | None = None, trust_pickle: bool = False,
            compile: bool = False, precision: str = "auto", loader: str = "device", workers: int = 2,
            adversarial_steps: int = 0,
            eps: float = DEFAULT_EPS, step_size: float = DEFAULT_STEP_SIZE, adv_weight: float = 1.0,
            mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
            image_size: int | None = None, resize: int | None = None, center_crop: int | None = None,
            augment: str | None = None, head: str | None = None) -> RunResult:
    """Protect a trained classifier against distillation; save the protected model to ``out``.

    ``method`` names a :data:`~shieldkit.methods.PROTECTIONS` entry. ``"rml"`` fine-tunes a copy of the model with
    the RML loss (defaults: 5 epochs, lr 0.01), with the settings of ``recipe``
    (:data:`shieldkit.methods.rml.RECIPES`; ``"uniform"`` by default, ``"rml-paper"`` for the paper's reading).
    ``rml`` replaces them: an :class:`~shieldkit.methods.rml.RMLSettings` outright, a mapping field by field
    (``rml={"tau": 2.0}``; ``alpha=``, ``tau=``, … beside it are its former spelling). ``"nasty"`` trains a Nasty Teacher of the same architecture from scratch against the model (defaults:
    30 epochs, lr 0.1). Test accuracy of original and protected is measured and stored.
    ``adversarial_steps`` > 0 (robust RML, for a hardened model) adds ``adv_weight``·CE on PGD examples
    (``eps``, ``step_size``) so that protection does not erode robustness; PGD-20 is then stored too.
    ``model`` may be a plain ``nn.Module`` taking normalised images: it is wrapped with ``mean``/``std``
    (default: the data's statistics), see :func:`~shieldkit.runs.as_model`.
    ``head`` is the output head (:data:`~shieldkit.output_heads.OUTPUT_HEADS`) recorded for ``export``, which
    puts it into the ONNX graph: ``decision`` (default) answers with the decision only, ``confidence`` with the
    decision and its confidence (docs/output-heads.md). A head protects the ``answer`` seat only: whoever holds
    the exported file can cut it off, and then only the fine-tuned weights protect (docs/verification.md).
    """
    head = head or PROTECT_HEAD
    options = recorded_options(locals())
    check_output_file(out)
    check_data_options(image_size, resize, center_crop, augment)
    check_head(head)
    method = PROTECTIONS.canonical(method)
    protection = PROTECTIONS.get(method)
    opts = ProtectOptions(recipe=recipe, rml=asdict(rml) if isinstance(rml, RMLSettings) else dict(rml or {}),
                          use_labels=use_labels, omega=omega,
                          attack=AttackOptions(eps, step_size, adversarial_steps), adv_weight=adv_weight)
    protection.check(opts)
    dev = resolve_device(device)
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
    cfg = TrainConfig(epochs=epochs if epochs is not None else protection.epochs, batch_size=batch_size,
                      lr=lr if lr is not None else protection.lr, weight_decay=weight_decay, seed=seed,
                      device=device, compile=compile, precision=precision, loader=loader,
                      workers=workers)
    seed_everything(seed)
    original = original.eval()
    protected, step = protection.build(original, opts)
    acc_original = clean_accuracy(original.to(dev), ds.test, device=dev)["accuracy"]
    settings = {"command": "protect", "shieldkit_version": __version__, "original": info.source,
                "arch": original.arch,
                "normalization": {"source": info.normalization, "mean": original.spec()["mean"],
                                  "std": original.spec()["std"]},
                "data": ds.describe(), "train": asdict(cfg), "method": step.settings(), "head": head,
                "options": options}
    resume_file = resume_path(out)
    t0 = time.perf_counter()
    result = fit(protected, step, ds, cfg, resume_path=resume_file, resume=resume, progress=progress,
                 description=f"protect ({method})", run_settings={"arch": original.arch, "data": ds.name,
                                                                  "original": info.source})
    figures = {"original_test_accuracy": acc_original, "protected_test_accuracy": result.test_accuracy,
               "accuracy_drop": acc_original - result.test_accuracy, "protect_seconds": time.perf_counter() - t0}
    if adversarial_steps > 0:
        figures.update(pgd20_figures(protected, ds, 1000, eps, step_size))
    return finish_run(out, protected, ds, settings, figures, result, resume_file)


@accepts_former_names("harden")
def harden(teacher: str | Path | nn.Module | None, data: str | Dataset, *, student: str = "mobilenetv2",
           out: str | Path | None = None, method: str = "ard", levels: str | Sequence[str] = ARD_LEVELS,
           lambdas: str | Sequence[float] = (1.0, 1.0, 1.0), gamma: float = 1.0, inner: str = "kl",
           base: str = "rslad", goldblum_alpha: float = 1.0, goldblum_tau: float = 30.0, eps: float = DEFAULT_EPS,
           steps: int = 10, step_size: float = DEFAULT_STEP_SIZE, data_fraction: float = 1.0, epochs: int = 30,
           batch_size: int = 128, lr: float = 0.1, weight_decay: float = 5e-4, schedule: str = "cosine",
           seed: int = 0, device: str = "auto", data_dir: str | Path | None = None, download: bool = False,
           resume: bool = False, progress: bool = True, student_kwargs: dict | None = None,
           arch: str | None = None, num_classes: int | None = None, trust_pickle: bool = False,
           compile: bool = False, precision: str = "auto", loader: str = "device", workers: int = 2, n: int = 1000,
           image_size: int | None = None, resize: int | None = None, center_crop: int | None = None,
           augment: str | None = None) -> RunResult:
    """Train a fresh ``student`` to be robust, distilled from a robust ``teacher`` with ``method``; save to ``out``.

    ``method`` names a :data:`~shieldkit.methods.HARDENING` entry: ``ard`` (ranking distillation, docs/ard.md),
    ``rslad``, ``ard-goldblum``, or ``pgd-at`` (PGD-AT of the student alone, no teacher; also ``at``), all with
    the same engine, attack and budget so that their figures compare. ``levels``/``lambdas``/``gamma`` configure
    ARD's ranking terms (cat, sample, disc); ``inner`` picks ARD's attack objective (KL to the teacher, or CE);
    ``data_fraction`` < 1 trains on a stratified part of the training split. Teacher and student clean accuracy,
    and the student's PGD-20 accuracy on ``n`` test images (0: skip), are stored as figures.
    """
    options = recorded_options(locals())
    check_output_file(out)
    check_data_options(image_size, resize, center_crop, augment)
    method = HARDENING.canonical(method)
    hardening = HARDENING.get(method)
    opts = HardenOptions(attack=AttackOptions(eps, step_size, steps), levels=levels, lambdas=lambdas,
                         gamma=gamma, inner=inner, base=base, goldblum_alpha=goldblum_alpha, goldblum_tau=goldblum_tau)
    if teacher is None and hardening.needs_teacher:
        raise InputError(f"--method {method} needs a --teacher")
    if not 0.0 < data_fraction <= 1.0:
        raise InputError(f"--data-fraction must be in (0, 1], got {data_fraction}")
    dev = resolve_device(device)
    teacher_model, info = (None, None)
    if teacher is not None:
        teacher_model, info, ds = load_with_data(teacher, data, data_dir=data_dir, download=download,
                                                 image_size=image_size, resize=resize, center_crop=center_crop,
                                                 arch=arch, num_classes=num_classes, trust_pickle=trust_pickle)
        check_compatible(teacher_model, info, ds)
        teacher_model = teacher_model.eval()
    else:
        ds = as_dataset(data, data_dir, download, image_size, resize=resize, center_crop=center_crop)
    ds = with_augment(ds, augment)
    seed_everything(seed)
    step = hardening.build(teacher_model, opts)
    model = create_model(student, ds.num_classes, mean=ds.mean, std=ds.std, **(student_kwargs or {}))
    if not isinstance(model, NormalizedClassifier):
        raise InputError(f"student {student!r} is not a shieldkit model")
    train_ds = data_fraction_subset(ds, data_fraction, seed)
    cfg = TrainConfig(epochs=epochs, batch_size=min(batch_size, len(train_ds.train)), lr=lr,
                      weight_decay=weight_decay, schedule=schedule, seed=seed, device=device, compile=compile,
                      precision=precision, loader=loader, workers=workers)
    teacher_acc = clean_accuracy(teacher_model.to(dev), ds.test, device=dev)["accuracy"] if teacher_model is not None \
        else None
    settings = {"command": "harden", "shieldkit_version": __version__,
                "teacher": info.source if info else None, "teacher_arch": info.arch if info else None,
                "arch": student, "model_kwargs": student_kwargs or {}, "data": ds.describe(),
                "data_fraction": data_fraction, "train_images": len(train_ds.train), "train": asdict(cfg),
                "method": step.settings(), "options": options}
    resume_file = resume_path(out)
    t0 = time.perf_counter()
    result = fit(model, step, train_ds, cfg, resume_path=resume_file, resume=resume, progress=progress,
                 description=f"harden {student} ({method})",
                 run_settings={"arch": student, "data": ds.name, "teacher": info.source if info else None,
                               "data_fraction": data_fraction})
    seconds = time.perf_counter() - t0
    epochs_run = max(1, epochs - result.resumed_from_epoch)
    figures = {"test_accuracy": result.test_accuracy, "teacher_test_accuracy": teacher_acc, "harden_seconds": seconds,
               "seconds_per_epoch": seconds / epochs_run, **pgd20_figures(model, ds, n, eps, step_size)}
    return finish_run(out, model, ds, settings, figures, result, resume_file)

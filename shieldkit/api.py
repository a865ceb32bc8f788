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
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from .checkpoint import ModelInfo
from .data import Dataset
from .engine import clean_accuracy, fit
from .errors import InputError
from .former_names import accepts_former_names
from .methods import ADVERSARIAL_TRAINING, HARDENING, PROTECTIONS, HardenSettings, Plain, TrainSettings, \
    adversarial_training
from .models import NormalizedClassifier, create_model
from .output_heads import PROTECT_HEAD, check_head
from .outputs import check_output_file
from .robustness import pgd20_figures
from .run_settings import NOT_RECORDED, TRAIN_EPOCHS, TRAIN_LR, DataSettings, ModelSource, RunSettings
from .runs import (RunResult, as_dataset, check_compatible, data_fraction_subset, finish_run,
                   load_with_settings, resume_path, with_augment)
from .settings import as_settings
from .utils import resolve_device, seed_everything
from .version import __version__


def recorded_options(**groups: Any) -> dict[str, Any]:
    """A call's settings as the flat options its sidecar records (``settings.options``, which ``--config`` reads
    back to repeat the run): each settings object's fields (a nested attack's too) as JSON values, paths as
    strings, an in-memory model or dataset by what it is; ``resume``/``progress`` left out."""
    def plain(value):
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, nn.Module):
            return f"<in-memory {type(value).__name__}>"
        if isinstance(value, Dataset):
            return value.name
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    out: dict[str, Any] = {}
    for name, value in groups.items():
        # a settings group is a dataclass; so is an in-memory Dataset, which is recorded by its name, not its arrays
        if is_dataclass(value) and not isinstance(value, (type, Dataset)):
            for field_name in (f.name for f in fields(value)):
                inner = getattr(value, field_name)
                if is_dataclass(inner) and not isinstance(inner, type):
                    out.update({k: plain(v) for k, v in asdict(inner).items()})
                elif field_name not in NOT_RECORDED and not (field_name == "attack" and inner is None):
                    out[field_name] = plain(inner)
        else:
            out[name] = plain(value)
    return out


def _data(data: str | Dataset, inputs: DataSettings) -> Dataset:
    return as_dataset(data, inputs.data_dir, inputs.download, inputs.image_size, resize=inputs.resize,
                      center_crop=inputs.center_crop)


@accepts_former_names("train")
def train(arch: str, data: str | Dataset, *, out: str | Path | None = None, adversarial: str | None = None,
          settings: TrainSettings | Mapping[str, Any] | None = None, model_kwargs: dict | None = None,
          run: RunSettings | Mapping[str, Any] | None = None,
          inputs: DataSettings | Mapping[str, Any] | None = None) -> RunResult:
    """Train a classifier ``arch`` on ``data``; save it to ``out``.

    Plain cross-entropy by default (``settings.label_smoothing``); ``adversarial`` names a robust-training method
    of :data:`~shieldkit.methods.ADVERSARIAL_TRAINING` (``pgd-at``, ``trades``) that trains a robust model (a
    teacher for ``harden``) against ℓ∞ PGD with ``settings.attack``. ``run`` (default 30 epochs at lr 0.1: :data:`~shieldkit.run_settings.TRAIN_EPOCHS`) and
    ``inputs`` are :class:`~shieldkit.run_settings.RunSettings` / :class:`~shieldkit.run_settings.DataSettings`,
    or mappings of their fields.
    """
    settings = as_settings(TrainSettings, settings, "settings=")
    run, inputs = as_settings(RunSettings, run, "run="), as_settings(DataSettings, inputs, "inputs=")
    check_output_file(out)
    if adversarial:
        adversarial = ADVERSARIAL_TRAINING.canonical(adversarial)
    method = adversarial_training(adversarial, settings) if adversarial else Plain(settings.label_smoothing)
    options = recorded_options(arch=arch, data=data, adversarial=adversarial, settings=settings,
                               model_kwargs=model_kwargs, run=run, inputs=inputs)
    ds = with_augment(_data(data, inputs), inputs.augment)
    train_ds = data_fraction_subset(ds, inputs.data_fraction, run.seed)
    cfg = run.config(epochs=TRAIN_EPOCHS, lr=TRAIN_LR, images=len(train_ds.train))
    seed_everything(run.seed)
    model = create_model(arch, ds.num_classes, mean=ds.mean, std=ds.std, **(model_kwargs or {}))
    check_compatible(model, ModelInfo(arch, ds.num_classes), ds)
    recorded = {"command": "train", "shieldkit_version": __version__, "arch": arch,
                "model_kwargs": model_kwargs or {}, "data": ds.describe(), "data_fraction": inputs.data_fraction,
                "train_images": len(train_ds.train), "train": asdict(cfg), "method": method.settings(),
                "options": options}
    resume_file = resume_path(out)
    result = fit(model, method, train_ds, cfg, resume_path=resume_file, resume=run.resume, progress=run.progress,
                 description=f"train {arch}" + (f" ({adversarial})" if adversarial else ""),
                 run_settings={"arch": arch, "data": ds.name})
    figures = {"test_accuracy": result.test_accuracy, "train_seconds": result.seconds}
    if adversarial:
        figures.update(pgd20_figures(model, ds, run.n, settings.attack.eps, settings.attack.step_size))
    return finish_run(out, model, ds, recorded, figures, result, resume_file)


@accepts_former_names("protect")
def protect(model: str | Path | nn.Module, data: str | Dataset, *, out: str | Path | None = None,
            method: str = "rml", settings: Any = None, head: str | None = None,
            run: RunSettings | Mapping[str, Any] | None = None,
            inputs: DataSettings | Mapping[str, Any] | None = None,
            source: ModelSource | Mapping[str, Any] | None = None) -> RunResult:
    """Protect a trained classifier against distillation; save the protected model to ``out``.

    ``method`` names a :data:`~shieldkit.methods.PROTECTIONS` entry, and ``settings`` are its settings: an object,
    a mapping of its fields, or None for the defaults.

    - ``"rml"`` fine-tunes a copy of the model with the RML loss (default run: 5 epochs, lr 0.01). ``settings``
      is an :class:`~shieldkit.methods.rml.RMLSettings` (a recipe of :data:`shieldkit.methods.rml.RECIPES` is
      one), a recipe's name, or a mapping of overrides of the recipe named under ``"recipe"`` (default
      ``"uniform"``): ``settings={"recipe": "rml-paper", "tau": 2.0}``. Its ``attack`` (robust RML, for a
      hardened model) adds ``adv_weight``·CE on PGD examples, so that protection does not erode robustness;
      PGD-20 is then stored too.
    - ``"nasty"`` trains a Nasty Teacher of the same architecture from scratch against the model (default run:
      30 epochs, lr 0.1), with :class:`~shieldkit.methods.nasty.NastySettings`.

    Test accuracy of original and protected is measured and stored. ``model`` may be a plain ``nn.Module``
    taking normalised images: it is wrapped with ``source.mean``/``source.std`` (default: the data's
    statistics), see :func:`~shieldkit.runs.as_model`. ``head`` is the output head
    (:data:`~shieldkit.output_heads.OUTPUT_HEADS`) recorded for ``export``, which puts it into the ONNX graph:
    ``decision`` (default) answers with the decision only, ``confidence`` with the decision and its confidence
    (docs/output-heads.md). A head protects the ``answer`` seat only: whoever holds the exported file can cut
    it off, and then only the fine-tuned weights protect (docs/verification.md).
    """
    head = head or PROTECT_HEAD
    check_head(head)
    method = PROTECTIONS.canonical(method)
    protection = PROTECTIONS.get(method)
    settings = protection.settings_of(settings)  # every setting is checked before any data or model is loaded
    run, inputs = as_settings(RunSettings, run, "run="), as_settings(DataSettings, inputs, "inputs=")
    source = as_settings(ModelSource, source, "source=")
    check_output_file(out)
    options = recorded_options(model=model, data=data, method=method, settings=settings, head=head, run=run,
                               inputs=inputs, source=source)
    dev = resolve_device(run.device)
    original, info, ds = load_with_settings(model, data, inputs, source)
    if not isinstance(original, NormalizedClassifier):
        raise InputError(f"{info.source}: protect needs a model it can rebuild (a shieldkit checkpoint, a "
                         f"state_dict/safetensors file with --arch and --num-classes, or an nn.Module in Python), "
                         f"not a {info.format or type(original).__name__} module")
    ds = with_augment(ds, inputs.augment)
    check_compatible(original, info, ds)
    train_ds = data_fraction_subset(ds, inputs.data_fraction, run.seed)
    cfg = run.config(epochs=protection.epochs, lr=protection.lr, images=len(train_ds.train))
    seed_everything(run.seed)
    original = original.eval()
    protected, step = protection.build(original, settings)
    acc_original = clean_accuracy(original.to(dev), ds.test, device=dev)["accuracy"]
    recorded = {"command": "protect", "shieldkit_version": __version__, "original": info.source,
                "arch": original.arch,
                "normalization": {"source": info.normalization, "mean": original.spec()["mean"],
                                  "std": original.spec()["std"]},
                "data": ds.describe(), "data_fraction": inputs.data_fraction, "train": asdict(cfg),
                "method": step.settings(), "head": head, "options": options}
    resume_file = resume_path(out)
    t0 = time.perf_counter()
    result = fit(protected, step, train_ds, cfg, resume_path=resume_file, resume=run.resume, progress=run.progress,
                 description=f"protect ({method})", run_settings={"arch": original.arch, "data": ds.name,
                                                                  "original": info.source})
    figures = {"original_test_accuracy": acc_original, "protected_test_accuracy": result.test_accuracy,
               "accuracy_drop": acc_original - result.test_accuracy, "protect_seconds": time.perf_counter() - t0}
    attack = getattr(settings, "attack", None)
    if attack is not None:
        figures.update(pgd20_figures(protected, ds, run.n, attack.eps, attack.step_size))
    return finish_run(out, protected, ds, recorded, figures, result, resume_file)


@accepts_former_names("harden")
def harden(teacher: str | Path | nn.Module | None, data: str | Dataset, *, out: str | Path | None = None,
           student: str = "mobilenetv2", student_kwargs: dict | None = None, method: str = "ard",
           settings: HardenSettings | Mapping[str, Any] | None = None,
           run: RunSettings | Mapping[str, Any] | None = None,
           inputs: DataSettings | Mapping[str, Any] | None = None,
           source: ModelSource | Mapping[str, Any] | None = None) -> RunResult:
    """Train a fresh ``student`` to be robust, distilled from a robust ``teacher`` with ``method``; save to ``out``.

    ``method`` names a :data:`~shieldkit.methods.HARDENING` entry: ``ard`` (ranking distillation, docs/ard.md),
    ``rslad``, ``ard-goldblum``, or ``pgd-at`` (PGD-AT of the student alone, no teacher; also ``at``), all with
    the same engine, attack and budget so that their figures compare. ``settings``
    (:class:`~shieldkit.methods.HardenSettings`) holds the training attack and ARD's ranking terms (levels,
    lambdas, gamma; ``inner`` picks ARD's attack objective). ``inputs.data_fraction`` < 1 trains on a stratified
    part of the training split. Teacher and student clean accuracy, and the student's PGD-20 accuracy on
    ``run.n`` test images (0: skip), are stored as figures. Default run: 30 epochs at lr 0.1.
    """
    method = HARDENING.canonical(method)
    hardening = HARDENING.get(method)
    settings = as_settings(HardenSettings, settings, "settings=")
    run, inputs = as_settings(RunSettings, run, "run="), as_settings(DataSettings, inputs, "inputs=")
    source = as_settings(ModelSource, source, "source=")
    check_output_file(out)
    if teacher is None and hardening.needs_teacher:
        raise InputError(f"--method {method} needs a --teacher")
    options = recorded_options(teacher=teacher, data=data, student=student, student_kwargs=student_kwargs,
                               method=method, settings=settings, run=run, inputs=inputs, source=source)
    dev = resolve_device(run.device)
    teacher_model, info = (None, None)
    if teacher is not None:
        teacher_model, info, ds = load_with_settings(teacher, data, inputs, source)
        check_compatible(teacher_model, info, ds)
        teacher_model = teacher_model.eval()
    else:
        ds = _data(data, inputs)
    ds = with_augment(ds, inputs.augment)
    seed_everything(run.seed)
    step = hardening.build(teacher_model, settings)
    model = create_model(student, ds.num_classes, mean=ds.mean, std=ds.std, **(student_kwargs or {}))
    if not isinstance(model, NormalizedClassifier):
        raise InputError(f"student {student!r} is not a shieldkit model")
    train_ds = data_fraction_subset(ds, inputs.data_fraction, run.seed)
    cfg = run.config(epochs=TRAIN_EPOCHS, lr=TRAIN_LR, images=len(train_ds.train))
    teacher_acc = clean_accuracy(teacher_model.to(dev), ds.test, device=dev)["accuracy"] if teacher_model is not None \
        else None
    recorded = {"command": "harden", "shieldkit_version": __version__,
                "teacher": info.source if info else None, "teacher_arch": info.arch if info else None,
                "arch": student, "model_kwargs": student_kwargs or {}, "data": ds.describe(),
                "data_fraction": inputs.data_fraction, "train_images": len(train_ds.train), "train": asdict(cfg),
                "method": step.settings(), "options": options}
    resume_file = resume_path(out)
    t0 = time.perf_counter()
    result = fit(model, step, train_ds, cfg, resume_path=resume_file, resume=run.resume, progress=run.progress,
                 description=f"harden {student} ({method})",
                 run_settings={"arch": student, "data": ds.name, "teacher": info.source if info else None,
                               "data_fraction": inputs.data_fraction})
    seconds = time.perf_counter() - t0
    epochs_run = max(1, cfg.epochs - result.resumed_from_epoch)
    figures = {"test_accuracy": result.test_accuracy, "teacher_test_accuracy": teacher_acc, "harden_seconds": seconds,
               "seconds_per_epoch": seconds / epochs_run,
               **pgd20_figures(model, ds, run.n, settings.attack.eps, settings.attack.step_size)}
    return finish_run(out, model, ds, recorded, figures, result, resume_file)

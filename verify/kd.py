"""The data-driven KD probe: how much does a student learn from a teacher's soft outputs?

Students of one architecture are trained on the attacker's split of the training data (never the
test split that scores them):

- ``hard``: labels only (cross-entropy) -- "nothing learned from the teacher";
- ``ls``: labels with label smoothing 0.1;
- ``kd_tau{τ}``: Hinton KD, L = (1 − α)·CE + α·τ²·KL(σ(t/τ) || σ(s/τ)), α = 0.9, τ ∈ {1, 4, 10, 20};
- ``soft_tau{τ}``: α = 1, soft labels only (an attacker with unlabelled data);
- ``top1``: cross-entropy on the teacher's argmax only (hard pseudo-labels, no true labels), the
  attacker that ignores whatever a defence does to the soft outputs.

The teacher is any callable ``images -> logits``: a torch module, or an oracle
(:mod:`shieldkit.verify.oracle`) -- a torch module (white-box) or the exported ONNX artefact
(black-box), whose queries are counted and checked against its budget before the probe starts.

KD gain = accuracy of the best KD student − accuracy of the hard-label student (means over seeds).
The teacher is queried once per epoch's augmented batches; every temperature reuses those logits.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch

from shieldkit.data import Dataset, iterate_batches, stratified_split
from shieldkit.engine import TrainConfig, autocast, evaluate, fit
from shieldkit.methods import HintonKD, Plain, PseudoLabel
from shieldkit.models import create_model
from shieldkit.utils import resolve_device, seed_everything

Teacher = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class KDProbeConfig:
    student: str = "cnn3"
    student_kwargs: dict = field(default_factory=lambda: {"width": 16})
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 5e-4
    taus: tuple[float, ...] = (1.0, 4.0, 10.0, 20.0)
    alpha: float = 0.9
    soft_only_taus: tuple[float, ...] = (4.0,)
    pseudo_label: bool = True
    label_smoothing: float = 0.1
    attacker_fraction: float = 0.2
    seeds: tuple[int, ...] = (0,)
    split_seed: int = 1234
    device: str = "auto"


def student_configs(cfg: KDProbeConfig) -> dict[str, dict]:
    """Name -> how that student is trained (``teacher`` False for the label-only baselines)."""
    configs: dict[str, dict] = {"hard": {"teacher": False, "label_smoothing": 0.0},
                                "ls": {"teacher": False, "label_smoothing": cfg.label_smoothing}}
    for tau in cfg.taus:
        configs[f"kd_tau{tau:g}"] = {"teacher": True, "alpha": cfg.alpha, "tau": tau}
    for tau in cfg.soft_only_taus:
        configs[f"soft_tau{tau:g}"] = {"teacher": True, "alpha": 1.0, "tau": tau}
    if cfg.pseudo_label:
        configs["top1"] = {"teacher": True, "pseudo_label": True}
    return configs


def queries_needed(data: Dataset, cfg: KDProbeConfig) -> int:
    """Oracle queries (images) one probe makes: every augmented attacker batch of every epoch, per seed."""
    steps = len(attacker_indices(data, cfg)) // cfg.batch_size
    return steps * cfg.batch_size * cfg.epochs * len(cfg.seeds)


def attacker_indices(data: Dataset, cfg: KDProbeConfig) -> torch.Tensor:
    """The attacker's images: a stratified ``attacker_fraction`` of the training split (fixed seed)."""
    idx, _ = stratified_split(data.train.y, cfg.attacker_fraction, cfg.split_seed)
    return idx


def _mean_std(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "runs": values}


def train_baselines(data: Dataset, cfg: KDProbeConfig, *, progress: bool = False) -> dict[str, dict]:
    """Label-only students (``hard``, ``ls``); they do not depend on the teacher, so compute once and reuse."""
    return _run(None, data, cfg, only_baselines=True, progress=progress)


def kd_probe(teacher: Teacher | None, data: Dataset, cfg: KDProbeConfig | None = None, *,
             baselines: dict[str, dict] | None = None, progress: bool = True) -> dict[str, Any]:
    """Train every student of :func:`student_configs` against ``teacher`` and return figures:

    ``{"students": {name: {"mean", "std", "runs"}}, "hard": ..., "best_kd": name, "kd_gain": float,
    "kd_gain_per_student": {...}, "settings": {...}}``. Pass ``baselines`` from :func:`train_baselines`
    to reuse the label-only students across teachers.
    """
    cfg = cfg or KDProbeConfig()
    t0 = time.perf_counter()
    remaining = getattr(teacher, "remaining", None)
    if remaining is not None and queries_needed(data, cfg) > remaining:
        from .oracle import QueryBudgetExceeded

        raise QueryBudgetExceeded(f"the KD probe needs {queries_needed(data, cfg)} oracle queries but only "
                                  f"{remaining} remain in the budget; lower epochs/seeds/attacker fraction")
    q0 = getattr(teacher, "queries", 0)
    students = dict(baselines if baselines is not None else train_baselines(data, cfg, progress=progress))
    students.update(_run(teacher, data, cfg, only_baselines=False, skip=set(students), progress=progress))
    hard = students["hard"]["mean"]
    kd_names = [n for n, c in student_configs(cfg).items() if c["teacher"]]
    gains = {n: students[n]["mean"] - hard for n in kd_names}
    best = max(gains, key=gains.get)
    return {"students": students, "hard_label_accuracy": hard, "best_kd": best, "best_kd_accuracy": students[best]["mean"],
            "kd_gain": gains[best], "kd_gain_per_student": gains, "seconds": time.perf_counter() - t0,
            "queries": getattr(teacher, "queries", 0) - q0,
            "settings": {**asdict(cfg), "attacker_images": int(len(attacker_indices(data, cfg))),
                         "test_images": len(data.test)}}


def _teacher_logits(teacher: Teacher, data: Dataset, idx: torch.Tensor, cfg: KDProbeConfig, seed: int,
                    dev: torch.device) -> list[list[torch.Tensor]]:
    """Teacher logits for every batch of every epoch, in the exact order the students will see them."""
    if isinstance(teacher, torch.nn.Module):
        teacher.eval()
    out = []
    with torch.no_grad():
        for epoch in range(cfg.epochs):
            per_epoch = []
            for x, _ in _batches(data, idx, cfg, seed, epoch, dev):
                with autocast(dev, True):
                    per_epoch.append(teacher(x).float())
            out.append(per_epoch)
    return out


def _batches(data, idx, cfg, seed, epoch, dev):
    return iterate_batches(data.train, cfg.batch_size, shuffle=True, augment=data.augment, seed=seed * 1000 + epoch,
                           device=dev, drop_last=True, indices=idx)


def _run(teacher, data, cfg, *, only_baselines, skip=frozenset(), progress=False) -> dict[str, dict]:
    from rich.console import Console
    from rich.progress import Progress

    dev = resolve_device(cfg.device)
    idx = attacker_indices(data, cfg)
    steps = max(1, len(idx) // cfg.batch_size)
    configs = {n: c for n, c in student_configs(cfg).items() if n not in skip and (not c["teacher"]) == only_baselines}
    runs: dict[str, list[float]] = {n: [] for n in configs}
    if isinstance(teacher, torch.nn.Module):
        teacher = teacher.to(dev)
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task("KD probe", total=len(configs) * len(cfg.seeds))
        for seed in cfg.seeds:
            cached = None
            if teacher is not None and any(c["teacher"] for c in configs.values()):
                cached = _teacher_logits(teacher, data, idx, cfg, seed, dev)
            for name, c in configs.items():
                seed_everything(10_000 + seed)
                student = create_model(cfg.student, data.num_classes, mean=data.mean, std=data.std, **cfg.student_kwargs)
                tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, seed=seed, device=str(dev))
                if c["teacher"]:
                    method = PseudoLabel() if c.get("pseudo_label") else HintonKD(alpha=c["alpha"], tau=c["tau"])

                    def batches(epoch, _seed=seed, _cached=cached):
                        for (x, y), t in zip(_batches(data, idx, cfg, _seed, epoch, dev), _cached[epoch]):
                            yield x, y, t
                else:
                    method = Plain(c["label_smoothing"])

                    def batches(epoch, _seed=seed):
                        return _batches(data, idx, cfg, _seed, epoch, dev)
                fit(student, method, data, tcfg, batches=batches, steps_per_epoch=steps, progress=False,
                    evaluate_each_epoch=False)
                runs[name].append(evaluate(student, data.test, device=dev)["accuracy"])
                bar.advance(task)
    return {n: _mean_std(v) for n, v in runs.items()}


def format_probe_table(results: dict[str, dict[str, Any]], teacher_accuracy: dict[str, float] | None = None) -> str:
    """A plain-text table: one row per teacher, one column per student, then KD gain."""
    names = list(next(iter(results.values()))["students"])
    head = ["teacher", "teacher acc"] + names + ["best KD", "KD gain"]
    rows = []
    for teacher, r in results.items():
        acc = (teacher_accuracy or {}).get(teacher)
        cells = [teacher, f"{acc:.2f}" if acc is not None else "-"]
        for n in names:
            s = r["students"][n]
            cells.append(f"{s['mean']:.2f}±{s['std']:.2f}" if len(s["runs"]) > 1 else f"{s['mean']:.2f}")
        cells += [r["best_kd"], f"{r['kd_gain']:+.2f}"]
        rows.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])

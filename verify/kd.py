"""The data-driven KD probe: how much does a student learn from a teacher's outputs? A panel of attackers.

Students of one or more families (registered model names, e.g. ``cnn3-16``) are trained on the attacker's
split of the training data (never the test split that scores them). Per family:

- baselines (no teacher): ``hard`` (labels only) and ``ls`` (labels with label smoothing 0.1);
- ``kd_tau{τ}``: Hinton KD, L = (1 − α)·CE + α·τ²·KL(σ(t/τ) || σ(s/τ)), α = 0.9, at each τ of ``taus``
  (τ < 1 is a temperature-sharpened student);
- ``soft_tau{τ}``: α = 1, soft labels only (an attacker with unlabelled data);
- ``top1``: cross-entropy on the teacher's argmax only (hard pseudo-labels);
- ``top1_kd``: Hinton KD at τ = 1 on the teacher's decision alone (a one-hot at confidence 0.9,
  :func:`~shieldkit.output_heads.decision_logits`): label-smoothed pseudo-labels mixed with the labels, the
  best use of the decisions that the KD panel itself would make (with ``baseline="decisions"`` an oracle that
  answers with nothing but its decisions then measures no gain beyond them);
- ``top{k}_tau{τ}``: KD on the teacher's top-k outputs only (the rest masked, :func:`~.adaptive.topk_logits`);
- ``unmirror_tau{τ}``: KD on the teacher's output with the negatives mirrored back (an attacker who knows
  RML's mirror defence, :func:`~.adaptive.unmirror_logits`);
- ``recal_tau{τ}``: KD on z/T with T fitted on the attacker's labelled images (:func:`~.adaptive.fit_temperature`);
- ``skeptical_tau{τ}``: the Skeptical Student (Kundu et al., NeurIPS 2021): the student grows auxiliary heads
  (:mod:`shieldkit.models.auxiliary_heads`), the teacher's outputs reach only the shallowest, the final head learns
  the labels (:class:`~shieldkit.methods.SkepticalKD`). For sequential student families (``cnn3-W``).

Noise and selection (docs/verification.md): every student runs once per seed; a gain is paired per
seed, ``acc(student, s) − acc(baseline, s)``, the baseline being whichever of the baseline students scores
higher on a held-out ``selection_fraction`` of the attacker's pool. The baseline set is declared before any
measurement (:data:`KD_BASELINES`): ``decisions`` (the default) holds ``hard``, ``ls``, ``top1`` and ``top1_kd``,
the students of the dataset's labels and of the oracle's own top-1 decisions, which any model that answers gives
away; ``labels`` (a policy choice: a knockoff must not beat a label-smoothing student) holds ``hard`` and ``ls``. Within an attack kind (the τ of
KD, the k of top-k, ...) the attacker picks the setting that scores best on that held-out slice, as a
real attacker would, never on the test split. The probe's ``kd_gain`` is the worst case over
(family, kind): the largest one-sided 95 % upper bound of the paired gain (Student t over seeds).

The teacher is any callable ``images -> logits``: a torch module, or an oracle (:mod:`.oracle`),
whose queries are counted and checked against its budget before the probe starts. The teacher is
queried once per seed on every epoch's augmented batches; every student of that seed reuses them.
A :class:`StudentMemo` shared between probes (the seats of one artefact, its references) trains a student
only once per distinct input: same family, seed, method and teacher targets (the decisions alone, for ``top1``).
Training is deterministic given those, so a reused student is the student the probe would have trained.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch

from shieldkit.data import Dataset, iterate_batches, stratified_split
from shieldkit.engine import TrainConfig, autocast, fit, predict_logits
from shieldkit.errors import InputError, QueryBudgetExceeded
from shieldkit.methods import HintonKD, Plain, PseudoLabel, SkepticalKD
from shieldkit.models import create_model, list_models
from shieldkit.models.auxiliary_heads import check_auxiliary_family, with_auxiliary_heads
from shieldkit.output_heads import decision_logits
from shieldkit.precision import resolve_precision
from shieldkit.progress import progress_bar
from shieldkit.utils import resolve_device, seed_everything

from .adaptive import fit_temperature, topk_logits, unmirror_logits

Teacher = Callable[[torch.Tensor], torch.Tensor]

BASELINES = ("hard", "ls")
# KDProbeConfig.baseline -> the students a gain is measured against (the attacker's best of them, held out)
KD_BASELINES = {"labels": BASELINES, "decisions": (*BASELINES, "top1", "top1_kd")}


@dataclass
class KDProbeConfig:
    families: tuple[str, ...] = ("cnn3-16",)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 5e-4
    taus: tuple[float, ...] = (1.0, 4.0, 10.0, 20.0)
    alpha: float = 0.9
    soft_only_taus: tuple[float, ...] = (4.0,)
    pseudo_label: bool = True
    top_k: tuple[int, ...] = ()
    unmirror: bool = False
    recalibrate: bool = False
    skeptical: bool = False
    adaptive_tau: float = 4.0  # the temperature of the top-k, un-mirror, recalibrated and skeptical students
    label_smoothing: float = 0.1
    attacker_fraction: float = 0.2
    selection_fraction: float = 0.1  # of the attacker's pool, held out to choose τ, k and the baseline
    seeds: tuple[int, ...] = (0, 1, 2)
    split_seed: int = 1234
    device: str = "auto"
    # what a gain is measured against: "labels" (the best student of the dataset's labels: hard or ls) or
    # "decisions" (also the student of the oracle's own argmax, top1: a gain is then what the outputs teach beyond
    # the decisions every classifier must give away; see the README's "floor under every gain")
    baseline: str = "decisions"
    # the students' training arithmetic: auto | fp32 | bf16 (shieldkit.precision); resolved here, so reports record
    # what ran, and a StudentMemo never mixes students of two precisions
    precision: str = "auto"

    def __post_init__(self) -> None:
        self.precision = resolve_precision(self.precision, resolve_device(self.device))
        if self.baseline not in KD_BASELINES:
            raise InputError(f"KD baseline must be one of {', '.join(KD_BASELINES)}, got {self.baseline!r}")
        if self.baseline == "decisions" and not self.pseudo_label:
            raise InputError("baseline 'decisions' needs the top1 student (pseudo_label = true)")
        if not self.families:
            raise InputError("the KD probe needs at least one student family")
        for f in self.families:
            check_family(f)
            if self.skeptical:
                check_auxiliary_family(f)
        if not self.seeds:
            raise InputError("the KD probe needs at least one seed")
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError(f"KD probe epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if not 0.0 < self.attacker_fraction <= 1.0:
            raise InputError(f"attacker_fraction must be in (0, 1], got {self.attacker_fraction}")
        if not 0.0 <= self.selection_fraction < 1.0:
            raise InputError(f"selection_fraction must be in [0, 1), got {self.selection_fraction}")
        if any(not (t > 0 and math.isfinite(t)) for t in (*self.taus, *self.soft_only_taus, self.adaptive_tau)):
            raise InputError("every KD temperature must be a positive number")
        if any(k < 1 for k in self.top_k):
            raise InputError(f"top_k values must be >= 1, got {list(self.top_k)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"KD probe lr must be a positive number, got {self.lr}")


def check_family(family: str) -> str:
    """A student family is a registered model name (``cnn3-8``/``-16``/``-32``: the CNN3 widths, see
    ``shieldkit models``)."""
    if family not in list_models():
        raise InputError(f"unknown student family {family!r}; valid: a model name, e.g. cnn3-8, cnn3-16, cnn3-32 "
                         f"(`shieldkit models` lists them)")
    return family


def student_configs(cfg: KDProbeConfig) -> dict[str, dict]:
    """Student name -> how it is trained; ``kind`` groups the settings an attacker chooses between."""
    configs: dict[str, dict] = {"hard": {"kind": "baseline", "teacher": False, "label_smoothing": 0.0},
                                "ls": {"kind": "baseline", "teacher": False, "label_smoothing": cfg.label_smoothing}}
    for tau in cfg.taus:
        configs[f"kd_tau{tau:g}"] = {"kind": "kd", "teacher": True, "alpha": cfg.alpha, "tau": tau}
    for tau in cfg.soft_only_taus:
        configs[f"soft_tau{tau:g}"] = {"kind": "soft", "teacher": True, "alpha": 1.0, "tau": tau}
    if cfg.pseudo_label:
        configs["top1"] = {"kind": "top1", "teacher": True, "pseudo_label": True}
        configs["top1_kd"] = {"kind": "top1", "teacher": True, "alpha": cfg.alpha, "tau": 1.0,
                              "transform": "decision"}
    tau = cfg.adaptive_tau
    for k in cfg.top_k:
        configs[f"top{k}_tau{tau:g}"] = {"kind": "topk", "teacher": True, "alpha": cfg.alpha, "tau": tau,
                                         "transform": f"top{k}"}
    if cfg.unmirror:
        configs[f"unmirror_tau{tau:g}"] = {"kind": "unmirror", "teacher": True, "alpha": cfg.alpha, "tau": tau,
                                           "transform": "unmirror"}
    if cfg.recalibrate:
        configs[f"recal_tau{tau:g}"] = {"kind": "recal", "teacher": True, "alpha": cfg.alpha, "tau": tau,
                                        "transform": "recal"}
    if cfg.skeptical:
        configs[f"skeptical_tau{tau:g}"] = {"kind": "skeptical", "teacher": True, "alpha": cfg.alpha, "tau": tau,
                                            "skeptical": True}
    return configs


def attacker_split(data: Dataset, cfg: KDProbeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The attacker's images (a stratified ``attacker_fraction`` of the training split, fixed seed), as
    ``(train, selection)`` indices: ``selection`` is the held-out slice that chooses settings."""
    idx, _ = stratified_split(data.train.y, cfg.attacker_fraction, cfg.split_seed)
    if cfg.selection_fraction <= 0:
        return idx, idx[:0]
    sel_pos, train_pos = stratified_split(data.train.y[idx], cfg.selection_fraction, cfg.split_seed + 1)
    return idx[train_pos], idx[sel_pos]


def attacker_indices(data: Dataset, cfg: KDProbeConfig) -> torch.Tensor:
    """Every image the attacker holds (its training images and its held-out selection slice)."""
    train, sel = attacker_split(data, cfg)
    return torch.cat([train, sel]).sort().values


def queries_needed(data: Dataset, cfg: KDProbeConfig) -> int:
    """Oracle queries (images) one probe makes: every augmented attacker batch of every epoch, per seed."""
    steps = len(attacker_split(data, cfg)[0]) // cfg.batch_size
    return steps * cfg.batch_size * cfg.epochs * len(cfg.seeds)


def t95(df: int) -> float:
    """One-sided 95 % quantile of Student's t with ``df`` degrees of freedom, t₀.₉₅(df) = F⁻¹(0.95; df) (exact, from
    ``scipy.stats.t``); infinite below 1 degree of freedom (a single seed bounds nothing)."""
    if df < 1:
        return math.inf
    from scipy.stats import t

    return float(t.ppf(0.95, df))


def paired_gain(runs: list[float], baseline_runs: list[float]) -> dict[str, Any]:
    """Per-seed gains acc_s − base_s: mean, std, and the one-sided 95 % bounds mean ± t·std/√n (upper: what a
    protection must keep under the margin; lower: what a reference must clear to show the probe has power;
    infinite with one seed: one run bounds nothing)."""
    diffs = [a - b for a, b in zip(runs, baseline_runs)]
    n = len(diffs)
    mean = statistics.fmean(diffs)
    std = statistics.stdev(diffs) if n > 1 else 0.0
    half = t95(n - 1) * std / math.sqrt(n) if n > 1 else math.inf
    return {"mean": mean, "std": std, "upper95": mean + half, "lower95": mean - half, "runs": diffs}


def _mean_std(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "runs": values}


def train_baselines(data: Dataset, cfg: KDProbeConfig, *, progress: bool = False,
                    memo: "StudentMemo | None" = None) -> dict[str, dict]:
    """Label-only students (``hard``, ``ls``) of every family; they do not depend on the teacher, so compute
    once and reuse across teachers (and, through ``memo``, across runs)."""
    if memo is not None:
        memo.bind(data, cfg)
    return _run(None, data, cfg, only_baselines=True, progress=progress, memo=memo)


class StudentMemo:
    """Students already trained in this run, by what determines them: family, seed, method and a digest of the
    teacher targets they were trained on (:func:`student_key`). ``hits`` counts the students it saved."""

    def __init__(self) -> None:
        self.results: dict[str, dict] = {}
        self.hits = 0
        self.scope: str | None = None

    def bind(self, data: Dataset, cfg: KDProbeConfig) -> None:
        """Tie the memo to one dataset and one probe setting (seeds aside): a student is only the same student on
        the same data with the same training settings. A second binding to anything else is a bug, refused."""
        settings = {k: v for k, v in asdict(cfg).items() if k != "seeds"}
        scope = json.dumps({"data": data.describe(), "probe": settings}, sort_keys=True, default=str)
        if self.scope is None:
            self.scope = scope
        elif self.scope != scope:
            raise ValueError("a StudentMemo is shared by probes of different data or settings")

    def get(self, key: str) -> dict | None:
        out = self.results.get(key)
        if out is not None:
            self.hits += 1
        return out

    def put(self, key: str, result: dict) -> None:
        self.results[key] = result


def targets_digest(view: list[list[torch.Tensor]], pseudo_label: bool) -> str:
    """The sha256 of a teacher-taught student's targets over every batch of every epoch (only their argmax, for a
    pseudo-label student, which sees nothing else)."""
    h = hashlib.sha256()
    for epoch in view:
        for z in epoch:
            t = z.argmax(1) if pseudo_label else z
            h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def student_key(family: str, seed: int, c: dict, digest: str | None) -> str:
    """What determines a student given the probe's settings: its family, seed, method (labels with their label
    smoothing; pseudo-label; KD with its α and τ) and, for a teacher-taught one, the :func:`targets_digest` of its
    targets."""
    if not c["teacher"]:
        return f"{family}|{seed}|labels:{c['label_smoothing']!r}"
    method = "pseudo" if c.get("pseudo_label") else \
        f"{'skeptical' if c.get('skeptical') else 'kd'}:{c['alpha']!r}:{c['tau']!r}"
    return f"{family}|{seed}|{method}|{digest}"


def kd_probe(teacher: Teacher | None, data: Dataset, cfg: KDProbeConfig | None = None, *,
             baselines: dict[str, dict] | None = None, progress: bool = True,
             memo: StudentMemo | None = None) -> dict[str, Any]:
    """Train every student of :func:`student_configs` in every family against ``teacher``; return figures:

    ``students`` (``"family/name"`` -> test accuracy mean/std/runs and held-out ``selection`` accuracy),
    ``attackers`` (per family and kind: the chosen student and its paired gain with upper bound),
    ``kd_gain`` / ``kd_gain_upper`` / ``deciding_attacker`` (the student: the largest upper bound),
    ``hard_label_accuracy`` (its family's baseline), ``kd_gain_per_student`` and ``settings``.
    ``detected`` is the attacker whose gain has the largest one-sided 95 % *lower* bound (the probe's power, when
    the teacher is an unprotected reference). Pass ``baselines`` from :func:`train_baselines` to reuse the
    label-only students across teachers, and one ``memo`` to every probe of a run (:class:`StudentMemo`).
    """
    cfg = cfg or KDProbeConfig()
    t0 = time.perf_counter()
    remaining = getattr(teacher, "remaining", None)
    if remaining is not None and queries_needed(data, cfg) > remaining:
        raise QueryBudgetExceeded(f"the KD probe needs {queries_needed(data, cfg)} oracle queries but only "
                                  f"{remaining} remain in the budget; lower epochs/seeds/attacker fraction")
    q0 = getattr(teacher, "queries", 0)
    students = dict(baselines if baselines is not None else train_baselines(data, cfg, progress=progress))
    hits0 = memo.hits if memo is not None else 0
    if memo is not None:
        memo.bind(data, cfg)
    students.update(_run(teacher, data, cfg, only_baselines=False, skip=set(students), progress=progress, memo=memo))
    figures = decide(students, cfg)
    train_idx, sel_idx = attacker_split(data, cfg)
    return {"students": students, **figures, "seconds": time.perf_counter() - t0,
            "queries": getattr(teacher, "queries", 0) - q0,
            "students_reused": (memo.hits - hits0) if memo is not None else 0,
            "settings": {**asdict(cfg), "attacker_images": int(len(train_idx)), "selection_images": int(len(sel_idx)),
                         "test_images": len(data.test)}}


def _score(s: dict) -> float:
    """What the attacker sees of a student: its held-out accuracy (its test accuracy without a held-out slice)."""
    return s["selection"]["mean"] if s.get("selection") else s["mean"]


def decide(students: dict[str, dict], cfg: KDProbeConfig) -> dict[str, Any]:
    """The panel's figures from trained students: per (family, kind) the attacker's choice and its paired gain;
    the deciding attacker is the one with the largest upper bound."""
    configs = student_configs(cfg)
    attackers: dict[str, dict] = {}
    per_student: dict[str, float] = {}
    identical: dict[str, str] = {}
    for family in cfg.families:
        candidates = KD_BASELINES[cfg.baseline]
        base = max(candidates, key=lambda b: _score(students[f"{family}/{b}"]))
        base_runs = students[f"{family}/{base}"]["runs"]
        kinds: dict[str, list[str]] = {}
        for name, c in configs.items():
            if c["teacher"]:
                per_student[f"{family}/{name}"] = paired_gain(students[f"{family}/{name}"]["runs"], base_runs)["mean"]
                if name in candidates:  # a baseline student is not an attacker (baseline="decisions": top1, top1_kd)
                    continue
                twin = same_training(students, family, name, candidates)
                if twin is not None:
                    identical[f"{family}/{name}"] = f"{family}/{twin}"
                    continue
                kinds.setdefault(c["kind"], []).append(name)
        for kind, names in kinds.items():
            chosen = max(names, key=lambda n: _score(students[f"{family}/{n}"]))
            gain = paired_gain(students[f"{family}/{chosen}"]["runs"], base_runs)
            attackers[f"{family}/{kind}"] = {"student": f"{family}/{chosen}", "baseline": f"{family}/{base}",
                                             "gain": gain}
    deciding = max(attackers, key=lambda a: (attackers[a]["gain"]["upper95"], attackers[a]["gain"]["mean"]))
    detected = max(attackers, key=lambda a: (attackers[a]["gain"]["lower95"], attackers[a]["gain"]["mean"]))
    d = attackers[deciding]
    return {"attackers": attackers, "deciding_attacker": d["student"],
            "kd_gain_lower": d["gain"]["lower95"],
            "detected": {"attacker": attackers[detected]["student"], "lower95": attackers[detected]["gain"]["lower95"],
                         "mean": attackers[detected]["gain"]["mean"]},
            "best_kd_accuracy": students[d["student"]]["mean"], "baseline": d["baseline"],
            "hard_label_accuracy": students[d["baseline"]]["mean"], "kd_gain": d["gain"]["mean"],
            "kd_gain_std": d["gain"]["std"], "kd_gain_upper": d["gain"]["upper95"], "kd_gain_runs": d["gain"]["runs"],
            "kd_gain_per_student": per_student, "identical_to_baseline": identical}


def same_training(students: dict[str, dict], family: str, name: str, candidates) -> str | None:
    """The baseline candidate that ``family/name`` trained exactly as (the same method and the same targets on every
    seed, by their digests), else None. Such a student sees nothing a baseline student does not: it is that baseline student, not
    an attacker (e.g. KD at τ = 1 on a decision head's answers *is* ``top1_kd``), so :func:`decide` leaves it out of
    the attackers instead of charging the baseline set's own held-out selection noise as a gain."""
    mine = students[f"{family}/{name}"].get("targets")
    if not mine:
        return None
    for b in candidates:
        if b != name and students.get(f"{family}/{b}", {}).get("targets") == mine:
            return b
    return None


def _teacher_logits(teacher: Teacher, data: Dataset, idx: torch.Tensor, cfg: KDProbeConfig, seed: int,
                    dev: torch.device) -> tuple[list[list[torch.Tensor]], torch.Tensor]:
    """Teacher logits for every batch of every epoch, in the exact order the students will see them, and the
    labels of the first epoch's batches (for an attacker that recalibrates on its labelled images)."""
    if isinstance(teacher, torch.nn.Module):
        teacher.eval()
    out, labels = [], []
    with torch.no_grad():
        for epoch in range(cfg.epochs):
            per_epoch = []
            for x, y in _batches(data, idx, cfg, seed, epoch, dev):
                with autocast(dev, True):
                    per_epoch.append(teacher(x).float())
                if epoch == 0:
                    labels.append(y)
            out.append(per_epoch)
    return out, torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)


def transform_logits(cached: list[list[torch.Tensor]], labels: torch.Tensor, transform: str | None
                     ) -> tuple[list[list[torch.Tensor]], dict]:
    """The attacker's view of the cached teacher logits under ``transform`` (None, ``top{k}``, ``unmirror``,
    ``recal``, ``decision``), and what it fitted (the recalibration temperature)."""
    if transform is None:
        return cached, {}
    if transform == "unmirror":
        fn, info = unmirror_logits, {}
    elif transform == "decision":
        fn, info = decision_logits, {}
    elif transform == "recal":
        t = fit_temperature(torch.cat(cached[0]), labels.to(cached[0][0].device))
        fn, info = (lambda z: z / t), {"temperature": t}
    elif transform.startswith("top"):
        k = int(transform[3:])
        fn, info = (lambda z: topk_logits(z, k)), {}
    else:
        raise ValueError(f"unknown logit transform {transform!r}")
    return [[fn(z) for z in epoch] for epoch in cached], info


def _batches(data, idx, cfg, seed, epoch, dev):
    return iterate_batches(data.train, cfg.batch_size, shuffle=True, augment=data.augment, seed=seed * 1000 + epoch,
                           device=dev, drop_last=True, indices=idx)


def _accuracy(model, data, idx, dev) -> float:
    logits = predict_logits(model, data, device=dev, indices=idx)
    y = data.y if idx is None else data.y[idx.to(data.y.device)]
    return 100.0 * (logits.argmax(1) == y.cpu()).float().mean().item()


def _run(teacher, data, cfg, *, only_baselines, skip=frozenset(), progress=False,
         memo: StudentMemo | None = None) -> dict[str, dict]:
    dev = resolve_device(cfg.device)
    idx, sel_idx = attacker_split(data, cfg)
    steps = max(1, len(idx) // cfg.batch_size)
    configs = {f"{fam}/{n}": (fam, c) for fam in cfg.families for n, c in student_configs(cfg).items()
               if f"{fam}/{n}" not in skip and (not c["teacher"]) == only_baselines}
    runs: dict[str, list[float]] = {n: [] for n in configs}
    sel: dict[str, list[float]] = {n: [] for n in configs}
    fitted: dict[str, list] = {}
    keys: dict[str, list[str]] = {}
    if isinstance(teacher, torch.nn.Module):
        teacher = teacher.to(dev)
    with progress_bar(progress) as bar:
        task = bar.add_task("KD probe" if teacher is not None else "KD probe baselines",
                            total=len(configs) * len(cfg.seeds), stats="")
        for seed in cfg.seeds:
            cached = labels = None
            if teacher is not None and configs:
                cached, labels = _teacher_logits(teacher, data, idx, cfg, seed, dev)
            views: dict[str | None, list] = {}
            digests: dict[tuple[str | None, bool], str] = {}  # one hash per view (and per argmax of it) per seed
            for name, (family, c) in configs.items():
                digest = None
                if c["teacher"]:
                    transform = c.get("transform")
                    if transform not in views:
                        views[transform] = transform_logits(cached, labels, transform)
                    view, info = views[transform]
                    if info:
                        fitted.setdefault(name, []).append(info)
                    which = (transform, bool(c.get("pseudo_label")))
                    if which not in digests:
                        digests[which] = targets_digest(view, which[1])
                    digest = digests[which]
                key = student_key(family, seed, c, digest)
                keys.setdefault(name, []).append(key.split("|", 2)[2][:80])  # method and targets' digest
                if memo is not None:
                    known = memo.get(key)
                    if known is not None:
                        runs[name].append(known["test"])
                        if known["selection"] is not None:
                            sel[name].append(known["selection"])
                        bar.update(task, advance=1, stats=f"seed {seed} {name}: {runs[name][-1]:.2f}% (same "
                                                          f"targets as a student already trained)")
                        continue
                seed_everything(10_000 + seed)
                student = create_model(family, data.num_classes, mean=data.mean, std=data.std)
                if c.get("skeptical"):
                    student = with_auxiliary_heads(student)
                tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, seed=seed, device=str(dev), precision=cfg.precision)
                if c["teacher"]:
                    method = PseudoLabel() if c.get("pseudo_label") else \
                        SkepticalKD(alpha=c["alpha"], tau=c["tau"]) if c.get("skeptical") else \
                        HintonKD(alpha=c["alpha"], tau=c["tau"])

                    def batches(epoch, _seed=seed, _view=view):
                        for (x, y), t in zip(_batches(data, idx, cfg, _seed, epoch, dev), _view[epoch]):
                            yield x, y, t
                else:
                    method = Plain(c["label_smoothing"])

                    def batches(epoch, _seed=seed):
                        return _batches(data, idx, cfg, _seed, epoch, dev)
                fit(student, method, data, tcfg, batches=batches, steps_per_epoch=steps, progress=False,
                    evaluate_each_epoch=False)
                runs[name].append(_accuracy(student, data.test, None, dev))
                if len(sel_idx):
                    sel[name].append(_accuracy(student, data.train, sel_idx, dev))
                if memo is not None:
                    memo.put(key, {"test": runs[name][-1], "selection": sel[name][-1] if len(sel_idx) else None})
                bar.update(task, advance=1, stats=f"seed {seed} {name}: {runs[name][-1]:.2f}%")
    out = {}
    for n, v in runs.items():
        out[n] = _mean_std(v)
        if sel[n]:
            out[n]["selection"] = _mean_std(sel[n])
        if n in fitted:
            out[n]["fitted"] = fitted[n]
        if n in keys:
            out[n]["targets"] = keys[n]  # per seed: its method and a digest of its targets (student_key)
    return out


def format_probe_table(results: dict[str, dict[str, Any]], teacher_accuracy: dict[str, float] | None = None) -> str:
    """A plain-text table: one row per teacher, one column per student, then the deciding attacker and KD gain."""
    names = list(next(iter(results.values()))["students"])
    head = ["teacher", "teacher acc"] + names + ["deciding attacker", "KD gain (95% upper)"]
    rows = []
    for teacher, r in results.items():
        acc = (teacher_accuracy or {}).get(teacher)
        cells = [teacher, f"{acc:.2f}" if acc is not None else "-"]
        for n in names:
            s = r["students"][n]
            cells.append(f"{s['mean']:.2f}±{s['std']:.2f}" if len(s["runs"]) > 1 else f"{s['mean']:.2f}")
        cells += [r["deciding_attacker"], f"{r['kd_gain']:+.2f} ({r['kd_gain_upper']:+.2f})"]
        rows.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])

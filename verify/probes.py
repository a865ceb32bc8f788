"""The probes ``verify`` can run against an artefact, by name: each is a function ``run(ctx) -> ProbeOutcome``,
registered in :data:`PROBES` (``kd``, ``datafree``, ``robustness``, in that order in every report). A probe is what
``verify`` runs; an attack (shieldkit/attacks/) perturbs inputs, and the robustness probe runs attacks.

A probe reads what the run resolved (:class:`ProbeContext`: the oracle, the data, the references, the settings of
every probe) and returns a :class:`ProbeOutcome`: its report entry ``{"settings", "queries", "seconds",
"figures"}``, and apart from it the figures the thresholds read (the artefact's, the reference's, each seat's).
``verify`` merges the outcomes; no probe writes into another's figures. A new probe is one function and one
registration here.

The KD probe runs at every seat of the artefact (:mod:`.seats`: ``answer``, the graph as shipped; ``file``, what a
file holder reaches), sharing its label-only students and, through one :class:`~.kd.StudentMemo`, every student
whose targets two seats share (the decisions, for one); each seat's figures go to ``ctx.seat_figures``. The
references are probed at their own ``file`` seat (the strongest logits they give).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from shieldkit.data import Dataset
from shieldkit.errors import InputError
from shieldkit.registry import Registry
from shieldkit.robustness import RobustnessConfig

from .datafree import DataFreeConfig, datafree_attack
from .evaluation import evaluate_robustness_of
from .kd import KDProbeConfig, StudentMemo, kd_probe, train_baselines
from .oracle import Oracle, oracle_accuracy
from .seats import DEFAULT_SEATS, SEATS, Seat, model_seats


@dataclass
class ProbeContext:
    """What a verify run resolved before its probes (read-only to them, but for the shared caches)."""

    artefact: Any  # what the user gave (a path or a module): the robustness probe loads it its own way
    oracle: Oracle
    data: Dataset
    kd: KDProbeConfig
    datafree: DataFreeConfig
    robustness: RobustnessConfig | None
    reference: Oracle | None = None
    matched_reference: Oracle | None = None
    query_budget: int | None = None
    providers: Any = None
    variant: str = "fp32"
    trust_pickle: bool = False
    progress: bool = True
    say: Callable[[str], None] = lambda msg: None
    seats: dict[str, Seat] = field(default_factory=dict)  # the artefact's seats (model_seats)
    gated: tuple[str, ...] = DEFAULT_SEATS
    memo: StudentMemo = field(default_factory=StudentMemo)

    _file_seats: dict[int, Seat] = field(default_factory=dict, repr=False)

    def strongest_seat(self) -> str:
        """The seat a probe that runs once (data-free) runs at: ``file`` when it is gated, else ``answer``."""
        return "file" if "file" in self.gated else "answer"

    def file_seat(self, oracle: Oracle) -> Seat:
        """A reference's ``file`` seat (its strongest logits), cut once per run and shared by every probe."""
        if id(oracle) not in self._file_seats:
            self._file_seats[id(oracle)] = model_seats(oracle, self.providers)["file"]
        return self._file_seats[id(oracle)]


@dataclass
class ProbeOutcome:
    """What one probe found: its report ``entry``; the ``figures`` of the artefact the thresholds read
    (``kd_gain_upper``, ``datafree_accuracy``, ``pgd20_accuracy``, ...); the reference's; and, for the KD probe,
    each seat's (:func:`probe_figures`)."""

    entry: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    reference_figures: dict[str, Any] = field(default_factory=dict)
    seat_figures: dict[str, dict] = field(default_factory=dict)


PROBES: Registry[Callable[[ProbeContext], ProbeOutcome]] = Registry("verify probe")


def probe_figures(probe: dict) -> dict:
    """The figures of a KD probe that a report keeps beside the model's accuracy: the deciding attacker's gain
    with both bounds, its baseline, the attacker the probe detects best (``detected``: largest lower bound)."""
    return {"kd_gain": probe["kd_gain"], "kd_gain_upper": probe["kd_gain_upper"],
            "kd_gain_lower": probe["kd_gain_lower"], "kd_attacker": probe["deciding_attacker"],
            "baseline": probe["baseline"],
            "baseline_accuracy": probe["hard_label_accuracy"], "detected": probe["detected"],
            "kd_students": {n: s["mean"] for n, s in probe["students"].items()}}


def _probe_reference(ctx: ProbeContext, oracle: Oracle, baselines: dict, what: str) -> dict:
    """The KD probe at a reference's ``file`` seat (its strongest logits), with the run's baselines and memo."""
    seat = ctx.file_seat(oracle)
    ctx.say(f"KD probe on the {what} ({seat.reached})")
    probe = kd_probe(seat.oracle, ctx.data, ctx.kd, baselines=baselines, progress=ctx.progress, memo=ctx.memo)
    return {**probe_figures(probe), "seat": "file", "reached": seat.reached}


@PROBES.register("kd")
def run_kd(ctx: ProbeContext) -> ProbeOutcome:
    """The data-driven KD probe at each seat of the artefact (and, with the same label-only baselines, at the
    references' file seats)."""
    cfg = ctx.kd
    ctx.say(f"KD probe: {', '.join(cfg.families)} students, {cfg.epochs} epochs, seeds {list(cfg.seeds)}, baseline "
            f"'{cfg.baseline}'")
    t0 = time.perf_counter()
    baselines = train_baselines(ctx.data, cfg, progress=ctx.progress, memo=ctx.memo)
    seconds = {"baselines": time.perf_counter() - t0}
    probes: dict[str, dict] = {}
    queries = 0
    for name in SEATS:
        seat = ctx.seats[name]
        if seat.same_as is not None:
            probes[name] = probes[seat.same_as]
            ctx.say(f"the {name} seat is the {seat.same_as} seat ({seat.reached})")
            continue
        ctx.say(f"KD probe at the {name} seat: {seat.reached}")
        probe = kd_probe(seat.oracle, ctx.data, cfg, baselines=baselines, progress=ctx.progress, memo=ctx.memo)
        seconds[name] = probe["seconds"]
        queries += probe.pop("queries")
        settings = probe.pop("settings")
        probes[name] = probe
        ctx.say(f"KD probe at the {name} seat: worst attacker {probe['deciding_attacker']}, gain "
                f"{probe['kd_gain']:+.2f} "
                f"(95% upper bound {probe['kd_gain_upper']:+.2f})")
    seat_figures = {name: probe_figures(probes[name]) for name in DEFAULT_SEATS}
    worst = max(ctx.gated, key=lambda s: seat_figures[s]["kd_gain_upper"])
    figures = {**{k: seat_figures[worst][k] for k in ("kd_gain", "kd_gain_upper", "kd_attacker")}, "kd_seat": worst}
    reference_figures = {}
    t0 = time.perf_counter()
    if ctx.reference is not None:
        reference_figures = _probe_reference(ctx, ctx.reference, baselines, "reference")
    if ctx.matched_reference is not None:
        figures["matched_reference"] = {"accuracy": oracle_accuracy(ctx.matched_reference, ctx.data.test),
                                        **_probe_reference(ctx, ctx.matched_reference, baselines,
                                                           "matched reference")}
    if ctx.reference is not None or ctx.matched_reference is not None:
        seconds["references"] = time.perf_counter() - t0
    # "seconds": the artefact's own probe (baselines and its seats); the references' time is listed apart
    entry = {"settings": settings, "queries": queries,
             "seconds": sum(v for k, v in seconds.items() if k != "references"), "seconds_by_part": seconds,
             "figures": {"seats": {name: probes[name] for name in DEFAULT_SEATS}, "students_reused": ctx.memo.hits}}
    return ProbeOutcome(entry, figures, reference_figures, seat_figures)


def _completed(result: dict, iterations: int, what: str) -> dict:
    if result["stopped"] != "completed":
        raise InputError(f"the data-free attack{what} stopped early ({result['stopped']}, {result['iterations']} of "
                         f"{iterations} iterations): a truncated run is not a figure; raise --query-budget or lower "
                         f"[datafree] iterations")
    return result


@PROBES.register("datafree")
def run_datafree(ctx: ProbeContext) -> ProbeOutcome:
    """Data-free KD on the artefact; on the reference, the same attack (mode, iterations, query budget)."""
    cfg = ctx.datafree
    seat = ctx.seats[ctx.strongest_seat()]
    ctx.say(f"data-free KD at the {seat.name} seat: {cfg.iterations} iterations, batch {cfg.batch_size}")
    df = _completed(datafree_attack(seat.oracle, ctx.data, cfg, progress=ctx.progress), cfg.iterations, "")
    df.pop("student")
    df["seat"] = seat.name
    out = ProbeOutcome({"settings": df.pop("settings"), "queries": df["queries"], "seconds": df["seconds"],
                        "figures": df}, figures={"datafree_accuracy": df["student_accuracy"]})
    if ctx.reference is not None:
        same = replace(cfg, mode="white" if df["mode"] == "white-box" else "black",
                       query_budget=cfg.query_budget if cfg.query_budget is not None else ctx.query_budget)
        ref_oracle = ctx.file_seat(ctx.reference).oracle
        if same.mode == "white" and not ref_oracle.white_box:
            raise InputError("the artefact was attacked white-box but the reference gives no gradients: pass the "
                             "reference as a checkpoint, or both as exported artefacts")
        ref_df = _completed(datafree_attack(ref_oracle, ctx.data, same, progress=ctx.progress), same.iterations,
                            " on the reference")
        out.reference_figures["datafree_accuracy"] = ref_df["student_accuracy"]
        out.figures["datafree_ratio"] = df["student_accuracy"] / max(ref_df["student_accuracy"], 1e-9)
    return out


@PROBES.register("robustness")
def run_robustness(ctx: ProbeContext) -> ProbeOutcome:
    """Robust accuracy of the artefact under the ℓ∞ attacks the policy names (as ``shieldkit evaluate``)."""
    cfg = ctx.robustness
    ctx.say(f"robustness: {', '.join(cfg.attacks)} on {cfg.n} test images")
    rob = evaluate_robustness_of(ctx.artefact, ctx.data, cfg, providers=ctx.providers, variant=ctx.variant,
                                 trust_pickle=ctx.trust_pickle, progress=ctx.progress)
    return ProbeOutcome({"settings": rob["settings"], "queries": rob["queries"],
                         "seconds": sum(rob["seconds"].values()), "figures": rob["accuracy"]},
                        figures={f"{k}_accuracy": v for k, v in rob["accuracy"].items() if k != "clean"})


def probe_order(names) -> list[str]:
    """``names`` in the registry's order (the order of every report), each checked."""
    bad = [a for a in names if a not in PROBES]
    if bad:
        raise InputError(f"unknown probe(s) {', '.join(map(str, bad))}; valid: "
                         f"{', '.join(PROBES.names(registration_order=True))}")
    return [a for a in PROBES.names(registration_order=True) if a in names]

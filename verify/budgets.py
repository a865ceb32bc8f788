"""How hard ``verify`` attacks: named budgets of the KD probe and the data-free attack.

Every budget but ``smoke`` runs 3 seeds (gains are paired per seed and bounded with Student's t) and two student
families, since which attacker wins depends on the student (docs/verification.md). Every budget probes both seats
(:mod:`.seats`); a seat without a head to cut is the answer seat and is probed once, and a student whose targets
two seats share is trained once (:class:`~.kd.StudentMemo`).

- ``smoke``: seconds, for wiring a pipeline: one family, 1 epoch, 2 seeds. Its verdict bounds nothing
  (the upper bound over 2 seeds is wide): use it to check that the gate runs, not that it holds.
- ``quick``: a 2-core CPU, CIFAR-10 (:data:`QUICK_TIME`, measured by benchmarks/seats_cifar10.py): CNN3-16 and
  CNN3-8 students on a 10k-image attacker split for 5 epochs, 3 seeds; KD at τ ∈ {1, 4}, top-1, un-mirror and
  recalibration; a short data-free run. (The wider CNN3-32 family, the slowest to train, is in ``standard``.)
- ``standard``: the CPU benchmark protocol: CNN3-16 and CNN3-32, 15 epochs, 3 seeds, KD at
  τ ∈ {0.5, 1, 2, 4, 10, 20}, soft labels, top-1, top-3, un-mirror, recalibration, the Skeptical Student (its
  auxiliary heads need the sequential cnn3 families); 1000 data-free iterations.
- ``full``: the paper-scale protocol, for a GPU: ResNet-18 and MobileNetV2 students, 200 epochs, 3 seeds;
  data-free with a ResNet-18 student for 20k iterations at batch 256.
"""

from __future__ import annotations

from dataclasses import replace

from shieldkit.errors import InputError

from .datafree import DataFreeConfig
from .kd import KDProbeConfig

BUDGETS = ("smoke", "quick", "standard", "full")
# the quick budget's wall time, from benchmarks/results/seats_cifar10.json (tests/test_seats.py checks the two agree)
QUICK_TIME = "about 9 min for an artefact with a head, both seats; about 5 min more per reference"
_PANEL = dict(taus=(0.5, 1.0, 2.0, 4.0, 10.0, 20.0), top_k=(3,), unmirror=True, recalibrate=True)


def budget_configs(name: str) -> tuple[KDProbeConfig, DataFreeConfig]:
    """The KD-probe and data-free settings of budget ``name``."""
    if name == "smoke":
        return (KDProbeConfig(families=("cnn3-8",), epochs=1, taus=(4.0,), seeds=(0, 1), attacker_fraction=0.05),
                DataFreeConfig(iterations=5))
    if name == "quick":
        return (KDProbeConfig(families=("cnn3-16", "cnn3-8"), epochs=5, taus=(1.0, 4.0), soft_only_taus=(),
                              unmirror=True, recalibrate=True, seeds=(0, 1, 2)),
                DataFreeConfig(iterations=150))
    if name == "standard":
        return (KDProbeConfig(families=("cnn3-16", "cnn3-32"), epochs=15, seeds=(0, 1, 2), skeptical=True, **_PANEL),
                DataFreeConfig(iterations=1000, ngf=64))
    if name == "full":
        return (KDProbeConfig(families=("resnet18", "mobilenetv2"), epochs=200, lr=0.1, seeds=(0, 1, 2), **_PANEL),
                DataFreeConfig(student="resnet18", student_kwargs={}, iterations=20000, batch_size=256, ngf=64))
    raise InputError(f"unknown budget {name!r}; valid: {', '.join(BUDGETS)}")


def with_seeds(kd: KDProbeConfig, df: DataFreeConfig, seeds: list[int] | None):
    if not seeds:
        return kd, df
    return replace(kd, seeds=tuple(seeds)), replace(df, seed=seeds[0])

"""How hard ``verify`` attacks: named budgets of the KD probe and the data-free attack.

- ``quick``: a 2-core CPU, CIFAR-10, about 10 minutes: CNN3-16 students on a 10k-image attacker
  split for 8 epochs, τ ∈ {1, 4}, soft labels, top-1; one seed; a short data-free run.
- ``standard``: the CPU benchmark protocol: every τ, 3 seeds, 15 epochs; 1000 data-free iterations.
- ``full``: the paper-scale protocol, for a GPU: ResNet-18 students, 200 epochs, 3 seeds, 20 %
  attacker split; data-free with a ResNet-18 student for 20k iterations at batch 256.
"""

from __future__ import annotations

from dataclasses import replace

from shieldkit.errors import InputError

from .datafree import DataFreeConfig
from .kd import KDProbeConfig

BUDGETS = ("quick", "standard", "full")


def budget_configs(name: str) -> tuple[KDProbeConfig, DataFreeConfig]:
    """The KD-probe and data-free settings of budget ``name``."""
    if name == "quick":
        return (KDProbeConfig(epochs=8, taus=(1.0, 4.0), seeds=(0,)),
                DataFreeConfig(iterations=150))
    if name == "standard":
        return (KDProbeConfig(epochs=15, seeds=(0, 1, 2)),
                DataFreeConfig(iterations=1000, ngf=64))
    if name == "full":
        return (KDProbeConfig(student="resnet18", student_kwargs={}, epochs=200, lr=0.1, seeds=(0, 1, 2)),
                DataFreeConfig(student="resnet18", student_kwargs={}, iterations=20000, batch_size=256, ngf=64))
    raise InputError(f"unknown budget {name!r}; valid: {', '.join(BUDGETS)}")


def with_seeds(kd: KDProbeConfig, df: DataFreeConfig, seeds: list[int] | None):
    if not seeds:
        return kd, df
    return replace(kd, seeds=tuple(seeds)), replace(df, seed=seeds[0])

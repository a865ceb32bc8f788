"""Typed settings of the training methods, and the registries that turn a method name into a training step.

Each command that picks a method by name reads one registry; the CLI lists its choices from the same
registry, so a method is one file (its step class and its settings) plus its registration there:

- :data:`ADVERSARIAL_TRAINING` (``train --adversarial``): ``build(settings: TrainSettings) -> Method``;
- :data:`HARDENING` (``harden --method``): a :class:`Hardening` (``build(teacher, settings: HardenSettings)``);
- :data:`PROTECTIONS` (``protect --method``): a :class:`Protection` (its default epochs and learning rate, how
  it reads its settings — ``settings_of``, before any data is loaded — and ``build(original, settings)``).

Every setting is validated when its settings object is made (one line, :class:`InputError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from torch import nn

from ..attacks import AttackSettings
from ..errors import InputError
from ..losses.adversarial import ARD_LEVELS, check_levels
from ..registry import Registry
from ..settings import as_settings, check_settings, setting
from .base import Method


def parse_levels(levels: str | Sequence[str]) -> tuple[str, ...]:
    """``"cat,sample,disc"`` (or a sequence; ``none`` for no level) -> a tuple of ARD levels, checked."""
    items = [s.strip() for s in levels.split(",")] if isinstance(levels, str) else list(levels)
    items = [s for s in items if s and s != "none"]
    try:
        return check_levels(items)
    except ValueError as e:
        raise InputError(f"{e} (or 'none')") from None


def parse_floats(values: str | Sequence[float], n: int, what: str) -> tuple[float, ...]:
    """``"1,1,1"`` (or a sequence) -> ``n`` floats, else one line naming ``what``."""
    items = [s for s in values.split(",") if s.strip()] if isinstance(values, str) else list(values)
    try:
        out = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be {n} comma-separated numbers, got {values!r}") from None
    if len(out) != n:
        raise InputError(f"{what} must be {n} comma-separated numbers, got {values!r}")
    return out


@dataclass(frozen=True)
class TrainSettings:
    """What ``train`` may read beside the optimisation: label smoothing (plain CE), TRADES's β and the attack of
    adversarial training."""

    label_smoothing: float = setting(0.0, "ε of label-smoothed cross-entropy", minimum=0)
    trades_beta: float = setting(6.0, "TRADES: weight of the KL term", minimum=0)
    attack: AttackSettings = field(default_factory=AttackSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attack", as_settings(AttackSettings, self.attack, "attack="))
        check_settings(self)


@dataclass(frozen=True)
class HardenSettings:
    """What a ``harden`` method may read: the training attack, ARD's ranking terms, Goldblum's KD."""

    levels: tuple[str, ...] | str = setting(ARD_LEVELS, "ARD ranking levels to use (ablation): cat,sample,disc or "
                                            "none")
    lambdas: tuple[float, ...] | str = setting((1.0, 1.0, 1.0), "ARD weights of cat,sample,disc")
    gamma: float = setting(1.0, "ARD tanh sharpness on logit differences", above=0)
    inner: str = setting("kl", "ARD attack objective: kl (to the teacher, RSLAD style) | ce", choices=("kl", "ce"))
    base: str = setting("rslad", "ARD base loss: rslad | ce | none", choices=("rslad", "ce", "none"))
    goldblum_alpha: float = setting(1.0, "ARD-Goldblum: weight α of the KD term (1 − α on clean CE)", minimum=0)
    goldblum_tau: float = setting(30.0, "ARD-Goldblum: distillation temperature", above=0)
    attack: AttackSettings = field(default_factory=AttackSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attack", as_settings(AttackSettings, self.attack, "attack="))
        object.__setattr__(self, "levels", parse_levels(self.levels))
        object.__setattr__(self, "lambdas", parse_floats(self.lambdas, 3, "--lambdas (cat, sample, disc)"))
        check_settings(self)
        if self.base == "none" and not self.levels:
            raise InputError("ARD with --base none needs at least one ranking level")


@dataclass(frozen=True)
class Hardening:
    """A ``harden`` method: how to build its step, and whether it distils a teacher."""

    build: Callable[[nn.Module | None, HardenSettings], Method]
    needs_teacher: bool = True


@dataclass(frozen=True)
class Protection:
    """A ``protect`` method: its default schedule, ``settings_of(value)`` (its settings object from an instance, a
    mapping of fields or None; bad settings as one line, before any data is loaded) and
    ``build(original, settings) -> (the model to train, its training step)``."""

    build: Callable[[nn.Module, Any], tuple[nn.Module, Method]]
    settings_of: Callable[[Any], Any]
    epochs: int
    lr: float


ADVERSARIAL_TRAINING: Registry[Callable[[TrainSettings], Method]] = Registry("adversarial training")
HARDENING: Registry[Hardening] = Registry("harden method")
PROTECTIONS: Registry[Protection] = Registry("protection method")

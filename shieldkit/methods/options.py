"""Typed options of the training commands, and the registries that turn a method name into a training step.

Each command that picks a method by name reads one registry; the CLI lists its choices from the same
registry, so a method is one file (its step class) plus its registration there:

- :data:`ADVERSARIAL_TRAINING` (``train --adversarial``): ``build(options: AttackOptions, trades_beta) -> Method``;
- :data:`HARDENING` (``harden --method``): a :class:`Hardening` (``build(teacher, options: HardenOptions)``);
- :data:`PROTECTIONS` (``protect --method``): a :class:`Protection` (its default epochs and learning rate, a
  ``check`` run before any data is loaded, and ``build(original, options: ProtectOptions) -> (model, step)``).

Every option is validated here, once, when the options object is made (one line, :class:`InputError`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from torch import nn

from ..attacks import DEFAULT_EPS, DEFAULT_STEP_SIZE, PGD
from ..errors import InputError
from ..losses.adversarial import ARD_LEVELS, check_levels
from ..registry import Registry
from .base import Method


@dataclass(frozen=True)
class AttackOptions:
    """The ℓ∞ PGD budget of a training attack (on [0, 1] inputs)."""

    eps: float = DEFAULT_EPS
    step_size: float = DEFAULT_STEP_SIZE
    steps: int = 10

    def __post_init__(self) -> None:
        if not (0.0 <= self.eps <= 1.0):
            raise InputError(f"--eps must be in [0, 1] (inputs are in [0, 1]), got {self.eps}")

    def pgd(self, loss: str = "ce") -> PGD:
        """A PGD attack with this budget; bad settings as one line."""
        try:
            return PGD(eps=self.eps, alpha=self.step_size, steps=self.steps, loss=loss)
        except ValueError as e:
            raise InputError(str(e)) from None


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


ARD_INNER = ("kl", "ce")
ARD_BASES = ("rslad", "ce", "none")


@dataclass(frozen=True)
class HardenOptions:
    """What a ``harden`` method may read: the training attack, ARD's ranking terms, Goldblum's KD, TRADES's β."""

    attack: AttackOptions = field(default_factory=AttackOptions)
    levels: tuple[str, ...] | str = ARD_LEVELS
    lambdas: tuple[float, ...] | str = (1.0, 1.0, 1.0)
    gamma: float = 1.0
    inner: str = "kl"
    base: str = "rslad"
    goldblum_alpha: float = 1.0
    goldblum_tau: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", parse_levels(self.levels))
        object.__setattr__(self, "lambdas", parse_floats(self.lambdas, 3, "--lambdas (cat, sample, disc)"))
        if self.inner not in ARD_INNER:
            raise InputError(f"ARD inner maximisation must be {' or '.join(ARD_INNER)}, got {self.inner!r}")
        if self.base not in ARD_BASES:
            raise InputError(f"ARD base loss must be {', '.join(ARD_BASES)}, got {self.base!r}")
        if self.base == "none" and not self.levels:
            raise InputError("ARD with --base none needs at least one ranking level")
        if not self.gamma > 0:
            raise InputError(f"gamma must be > 0, got {self.gamma}")


@dataclass(frozen=True)
class ProtectOptions:
    """What a ``protect`` method may read. ``rml``: overrides of the ``recipe``'s RML settings (field names of
    :class:`~shieldkit.methods.rml.RMLSettings`; Nasty reads ``tau``)."""

    recipe: str = "uniform"
    rml: dict = field(default_factory=dict)
    use_labels: bool = True
    omega: float = 0.04
    attack: AttackOptions = field(default_factory=lambda: AttackOptions(steps=0))  # steps 0: no adversarial term
    adv_weight: float = 1.0

    def __post_init__(self) -> None:
        if not (self.omega >= 0):
            raise InputError(f"omega must be >= 0, got {self.omega}")
        if self.attack.steps < 0:
            raise InputError(f"--adversarial-steps must be >= 0, got {self.attack.steps}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hardening:
    """A ``harden`` method: how to build its step, and whether it distils a teacher."""

    build: Callable[[nn.Module | None, HardenOptions], Method]
    needs_teacher: bool = True


@dataclass(frozen=True)
class Protection:
    """A ``protect`` method: its default schedule, a check of the options before any data is loaded, and
    ``build(original, options) -> (the model to train, its training step)``."""

    build: Callable[[nn.Module, ProtectOptions], tuple[nn.Module, Method]]
    epochs: int
    lr: float
    check: Callable[[ProtectOptions], None] = lambda options: None


ADVERSARIAL_TRAINING: Registry[Callable[[AttackOptions, float], Method]] = Registry("adversarial training")
HARDENING: Registry[Hardening] = Registry("harden method")
PROTECTIONS: Registry[Protection] = Registry("protection method")

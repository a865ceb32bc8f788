"""Nasty Teacher baseline (Ma et al. 2021): trained from scratch against a normal network."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

import torch
from torch import nn

from ..losses.nasty import nasty_loss
from ..models import create_model
from ..errors import InputError
from ..former_names import option
from ..settings import as_settings, check_settings, setting
from .base import Method, frozen, move_frozen, total
from .options import PROTECTIONS, Protection


class Nasty(Method):
    name = "nasty"
    from_scratch = True

    def __init__(self, adversary: nn.Module, tau: float = 4.0, omega: float = 0.04) -> None:
        self.adversary = frozen(adversary)
        self.tau, self.omega = float(tau), float(omega)

    def to(self, device, channels_last=False):
        self.adversary = move_frozen(self.adversary, device, channels_last)
        return self

    def step(self, model, x, y, *extras):
        with torch.no_grad():
            logits_adversary = self.adversary(x)
        logits = model(x)
        return total(nasty_loss(logits, logits_adversary, y, self.tau, self.omega), logits)

    def settings(self):
        return {"method": self.name, "tau": self.tau, "omega": self.omega, "from_scratch": True}


@dataclass(frozen=True)
class NastySettings:
    """The Nasty Teacher's loss (losses/nasty.py): CE(z, y) − ω·τ²·KL(σ(z_adv/τ) ‖ σ(z/τ))."""

    tau: float = setting(4.0, "temperature τ of the adversarial KL term", above=0)
    omega: float = setting(0.04, "weight ω of the adversarial KL term", minimum=0)

    def __post_init__(self) -> None:
        check_settings(self)


def nasty_settings(value: NastySettings | Mapping[str, Any] | None) -> NastySettings:
    """``value`` as :class:`NastySettings`; RML's settings in a mapping are refused by name (they would be
    silently ignored)."""
    if isinstance(value, Mapping):
        given = {k: v for k, v in value.items() if v is not None}
        other = sorted(set(given) - {f.name for f in fields(NastySettings)})
        if other:
            raise InputError(f"--method nasty takes --tau and --omega; {', '.join(option(k) for k in other)} "
                             f"are not its settings")
        value = given
    return as_settings(NastySettings, value, "settings=")


def _nasty_build(original: nn.Module, settings: NastySettings) -> tuple[nn.Module, Nasty]:
    """A fresh model of the original's architecture, trained from scratch against the original."""
    spec = original.spec()
    fresh = create_model(original.arch, original.num_classes, mean=spec["mean"], std=spec["std"],
                         **original.model_kwargs)
    return fresh, Nasty(original, tau=settings.tau, omega=settings.omega)


PROTECTIONS.add("nasty", Protection(_nasty_build, nasty_settings, epochs=30, lr=0.1))

"""Nasty Teacher baseline (Ma et al. 2021): trained from scratch against a normal network."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..losses.nasty import nasty_loss
from ..models import create_model
from ..errors import InputError
from .base import Method, frozen, move_frozen, total
from .options import PROTECTIONS, ProtectOptions, Protection


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


def _nasty_build(original: nn.Module, options: ProtectOptions) -> tuple[nn.Module, Nasty]:
    """A fresh model of the original's architecture, trained from scratch against the original."""
    spec = original.spec()
    fresh = create_model(original.arch, original.num_classes, mean=spec["mean"], std=spec["std"],
                         **original.model_kwargs)
    tau = options.rml.get("tau")
    return fresh, Nasty(original, tau=4.0 if tau is None else tau, omega=options.omega)


def _nasty_check(options: ProtectOptions) -> None:
    """Nasty reads ``tau`` and ``omega``; the other RML settings would be silently ignored, so they are refused."""
    other = sorted(k for k, v in options.rml.items() if v is not None and k != "tau")
    if other:
        raise InputError(f"--method nasty takes --tau and --omega; {', '.join('--' + k.replace('_', '-') for k in other)} "
                         f"are RML settings")
    tau = options.rml.get("tau")
    if tau is not None and not (0.0 < float(tau) < math.inf):
        raise InputError(f"--tau must be a positive number, got {tau}")


PROTECTIONS.add("nasty", Protection(_nasty_build, epochs=30, lr=0.1, check=_nasty_check))

"""Nasty Teacher baseline (Ma et al. 2021): trained from scratch against a normal network."""

from __future__ import annotations

import torch
from torch import nn

from ..losses.nasty import nasty_loss
from ..models import create_model
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
    return fresh, Nasty(original, tau=options.tau if options.tau is not None else 4.0, omega=options.omega)


PROTECTIONS.add("nasty", Protection(_nasty_build, epochs=30, lr=0.1))

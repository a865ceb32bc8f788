"""Adversarial training of a single model: PGD-AT (Madry et al. 2018) and TRADES (Zhang et al. 2019).

Used by ``train --adversarial`` (robust teachers) and ``harden --method pgd-at`` (the student baseline; ``at`` and
``pgd`` are the older names, still accepted).
The attack runs with the model in eval mode and computes input gradients only.
"""

from __future__ import annotations

import torch.nn.functional as F

from ..attacks import PGD
from ..losses.adversarial import trades_loss
from .base import Method, total
from .options import ADVERSARIAL_TRAINING, HARDENING, Hardening, TrainSettings


class PGDAT(Method):
    """min_θ E[ max_{‖δ‖∞≤ε} CE(f_θ(x + δ), y) ], the inner max by PGD-CE from a uniform start."""

    name = "pgd-at"

    def __init__(self, attack: PGD | None = None) -> None:
        self.attack = attack or PGD(loss="ce")

    def step(self, model, x, y, *extras):
        x_adv = self.attack(model, x, y)
        logits = model(x_adv)
        return total({"loss_ce_adv": F.cross_entropy(logits.float(), y)}, logits)

    def settings(self):
        return {"method": self.name, "attack": self.attack.settings()}


class TRADES(Method):
    """CE(f(x), y) + β·KL(f(x) ‖ f(x')), x' from PGD on the same KL from x + 0.001·N(0, 1)."""

    name = "trades"

    def __init__(self, beta: float = 6.0, attack: PGD | None = None) -> None:
        self.beta = float(beta)
        self.attack = attack or PGD(loss="kl")

    def step(self, model, x, y, *extras):
        x_adv = self.attack(model, x, y)  # reference: the model's own clean logits (eval mode)
        logits_clean = model(x)
        logits_adv = model(x_adv)
        return total(trades_loss(logits_clean, logits_adv, y, self.beta), logits_adv)

    def settings(self):
        return {"method": self.name, "beta": self.beta, "attack": self.attack.settings()}


ADVERSARIAL_TRAINING.add("pgd-at", lambda settings: PGDAT(settings.attack.pgd("ce")), aliases=("pgd",))
ADVERSARIAL_TRAINING.add("trades", lambda settings: TRADES(settings.trades_beta, settings.attack.pgd("kl")))
HARDENING.add("pgd-at", Hardening(lambda teacher, options: PGDAT(options.attack.pgd("ce")), needs_teacher=False),
              aliases=("at",))


def adversarial_training(name: str, settings: TrainSettings | None = None) -> Method:
    """The robust-training step registered as ``name`` in :data:`ADVERSARIAL_TRAINING` (``pgd-at``, ``trades``)."""
    return ADVERSARIAL_TRAINING.get(name)(settings or TrainSettings())

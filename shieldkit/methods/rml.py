"""RML protection step: fine-tune a copy of the original with ``rml_loss`` (see losses/rml.py).

The frozen original runs under ``torch.no_grad()`` in the same autocast: one extra forward, no
extra backward. With ``use_labels=False`` the target is the original's argmax (pseudo-labels), so
protection needs no labelled data and keeps the original's decision on every training image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..attacks import PGD
from ..losses.rml import REVERSE_MODES, rml_loss
from .base import METHODS, Method, frozen, move_frozen, total


@METHODS.register("rml")
class RML(Method):
    name = "rml"

    def __init__(self, original: nn.Module, alpha: float = 1.0, beta: float = 1.0, tau: float = 4.0,
                 reverse: str = "mirror", use_labels: bool = True, attack: PGD | None = None,
                 adv_weight: float = 1.0) -> None:
        if reverse not in REVERSE_MODES:
            raise ValueError(f"reverse must be one of {REVERSE_MODES}, got {reverse!r}")
        self.original = frozen(original)
        self.alpha, self.beta, self.tau = float(alpha), float(beta), float(tau)
        self.reverse = reverse
        self.use_labels = bool(use_labels)
        self.attack, self.adv_weight = attack, float(adv_weight)

    def to(self, device, channels_last=False):
        self.original = move_frozen(self.original, device, channels_last)
        return self

    def step(self, model, x, y, *extras):
        with torch.no_grad():
            logits_original = self.original(x)
        target = y if self.use_labels else logits_original.argmax(dim=1)
        logits = model(x)
        terms = rml_loss(logits, logits_original, target, self.alpha, self.beta, self.tau, self.reverse)
        if self.attack is not None:
            x_adv = self.attack(model, x, target)
            terms["loss_ce_adv"] = self.adv_weight * F.cross_entropy(model(x_adv).float(), target)
        return total(terms, logits)

    def settings(self):
        return {"method": self.name, "alpha": self.alpha, "beta": self.beta, "tau": self.tau, "reverse": self.reverse,
                "use_labels": self.use_labels, "attack": self.attack.settings() if self.attack else None,
                "adv_weight": self.adv_weight if self.attack else None}

"""RML protection step: fine-tune a copy of the original with ``rml_loss`` (see losses/rml.py).

The frozen original runs under ``torch.no_grad()`` in the same autocast: one extra forward, no
extra backward. With ``use_labels=False`` the target is the original's argmax (pseudo-labels), so
protection needs no labelled data and keeps the original's decision on every training image.

Named recipes (:data:`RECIPES`) fix every hyper-parameter of a variant; ``protect`` starts from one
and lets any setting be overridden.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..attacks import PGD
from ..errors import InputError
from ..losses.rml import NEGATIVE_TARGETS, parse_confidence, rml_loss
from .base import Method, frozen, move_frozen, total
from .options import PROTECTIONS, ProtectOptions, Protection

# name -> settings of RML. "rml-paper" is the reading of the paper (reverse the negatives, keep each image's
# confidence); "uniform" (the default: the smallest accuracy cost measured, benchmarks/README.md's protect
# frontier; it does not stop a recalibrating attacker) removes the negatives' ranking; "flat" also fixes the confidence and flattens
# the negative logits (docs/rml.md).
RECIPES: dict[str, dict] = {
    "rml-paper": {"alpha": 1.0, "beta": 0.5, "tau": 4.0, "negatives": "mirror", "confidence": "original",
                  "ce_weight": 1.0, "flatness": 0.0},
    "uniform": {"alpha": 0.0, "beta": 0.5, "tau": 4.0, "negatives": "uniform", "confidence": "original",
                "ce_weight": 1.0, "flatness": 0.0},
    "flat": {"alpha": 1.0, "beta": 1.0, "tau": 1.0, "negatives": "uniform", "confidence": 0.9,
             "ce_weight": 0.0, "flatness": 0.1},
}
DEFAULT_RECIPE = "uniform"


def recipe_settings(recipe: str, **overrides) -> dict:
    """The settings of ``recipe`` with every override that is not None applied."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown RML recipe {recipe!r}; valid: {', '.join(RECIPES)}")
    out = dict(RECIPES[recipe])
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


class RML(Method):
    name = "rml"

    def __init__(self, original: nn.Module, alpha: float = 1.0, beta: float = 1.0, tau: float = 4.0,
                 negatives: str = "mirror", use_labels: bool = True, attack: PGD | None = None,
                 adv_weight: float = 1.0, confidence: str | float = "original", ce_weight: float = 1.0,
                 flatness: float = 0.0, recipe: str | None = None) -> None:
        if negatives not in NEGATIVE_TARGETS:
            raise ValueError(f"negatives must be one of {NEGATIVE_TARGETS}, got {negatives!r}")
        for name, value in (("alpha", alpha), ("beta", beta), ("ce_weight", ce_weight), ("flatness", flatness)):
            if not (float(value) >= 0.0):  # also refuses NaN
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not (float(tau) > 0.0) or float(tau) == float("inf"):
            raise ValueError(f"tau must be a positive number, got {tau}")
        self.original = frozen(original)
        self.alpha, self.beta, self.tau = float(alpha), float(beta), float(tau)
        self.negatives = negatives
        self.confidence = parse_confidence(confidence)
        self.ce_weight, self.flatness = float(ce_weight), float(flatness)
        self.use_labels = bool(use_labels)
        self.attack, self.adv_weight = attack, float(adv_weight)
        self.recipe = recipe  # the named recipe these settings started from (recorded, nothing else)

    def to(self, device, channels_last=False):
        self.original = move_frozen(self.original, device, channels_last)
        return self

    def step(self, model, x, y, *extras):
        with torch.no_grad():
            logits_original = self.original(x)
        target = y if self.use_labels else logits_original.argmax(dim=1)
        logits = model(x)
        terms = rml_loss(logits, logits_original, target, self.alpha, self.beta, self.tau, self.negatives,
                         confidence=self.confidence, ce_weight=self.ce_weight, flatness=self.flatness)
        if self.attack is not None:
            x_adv = self.attack(model, x, target)
            terms["loss_ce_adv"] = self.adv_weight * F.cross_entropy(model(x_adv).float(), target)
        return total(terms, logits)

    def settings(self):
        return {"method": self.name, "alpha": self.alpha, "beta": self.beta, "tau": self.tau,
                "negatives": self.negatives, "confidence": self.confidence, "ce_weight": self.ce_weight,
                "flatness": self.flatness, "use_labels": self.use_labels,
                "attack": self.attack.settings() if self.attack else None,
                "adv_weight": self.adv_weight if self.attack else None,
                **({"recipe": self.recipe} if self.recipe is not None else {})}


def _rml_settings(options: ProtectOptions) -> dict:
    try:
        return recipe_settings(options.recipe, alpha=options.alpha, beta=options.beta, tau=options.tau,
                               negatives=options.negatives, confidence=options.confidence,
                               ce_weight=options.ce_weight, flatness=options.flatness)
    except ValueError as e:
        raise InputError(str(e)) from None


def _rml_check(options: ProtectOptions) -> None:
    try:  # every setting is checked before any data or model is loaded
        RML(nn.Identity(), use_labels=options.use_labels, **_rml_settings(options))
    except ValueError as e:
        raise InputError(str(e)) from None


def _rml_build(original: nn.Module, options: ProtectOptions) -> tuple[nn.Module, RML]:
    protected = copy.deepcopy(original).requires_grad_(True)  # the original may arrive frozen (e.g. a teacher)
    attack = options.attack.pgd("ce") if options.attack.steps > 0 else None
    return protected, RML(original, use_labels=options.use_labels, attack=attack, adv_weight=options.adv_weight,
                          recipe=options.recipe, **_rml_settings(options))


PROTECTIONS.add("rml", Protection(_rml_build, epochs=5, lr=0.01, check=_rml_check))

"""RML protection step: fine-tune a copy of the original with ``rml_loss`` (see losses/rml.py).

The frozen original runs under ``torch.no_grad()`` in the same autocast: one extra forward, no
extra backward. With ``use_labels=False`` the target is the original's argmax (pseudo-labels), so
protection needs no labelled data and keeps the original's decision on every training image.

Named recipes (:data:`RECIPES`) fix every hyper-parameter of a variant; ``protect`` starts from one
and lets any setting be overridden.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..attacks import PGD
from ..errors import InputError
from ..losses.rml import NEGATIVE_TARGETS, parse_confidence, rml_loss
from ..settings import check_settings, setting, with_overrides
from .base import Method, frozen, move_frozen, total
from .options import PROTECTIONS, ProtectOptions, Protection


@dataclass(frozen=True)
class RMLSettings:
    """RML's loss, L = w_ce·CE(z_p, t) + α·L_bin + β·L_neg + λ·L_flat (losses/rml.py, docs/rml.md): every weight
    and target, declared once here with its default (the ``uniform`` recipe), its help and its bounds."""

    alpha: float = setting(0.0, "weight α of the binary (target vs rest) term", minimum=0)
    beta: float = setting(0.5, "weight β of the negatives term", minimum=0)
    tau: float = setting(4.0, "temperature τ of the RML terms", above=0)
    negatives: str = setting("uniform", "target of the negatives: mirror (the paper's reverse ranking) | negate "
                             "(inverted ranking) | uniform (no ranking)", choices=NEGATIVE_TARGETS)
    confidence: str | float = setting("original", "target confidence of the binary term: original | equalized | "
                                      "fixed:C (0<C<1)")
    ce_weight: float = setting(1.0, "weight w_ce of the cross-entropy term", minimum=0)
    flatness: float = setting(0.0, "weight λ of the logit-variance term that flattens the negatives at every "
                              "temperature", minimum=0)

    def __post_init__(self) -> None:
        check_settings(self)
        try:
            object.__setattr__(self, "confidence", parse_confidence(self.confidence))
        except ValueError as e:
            raise InputError(str(e)) from None


# name -> RML settings. "rml-paper" is the reading of the paper (reverse the negatives, keep each image's
# confidence); "uniform" (the default: the smallest accuracy cost measured, benchmarks/README.md's protect
# frontier; it does not stop a recalibrating attacker) removes the negatives' ranking; "flat" also fixes the
# confidence and flattens the negative logits (docs/rml.md).
RECIPES: dict[str, RMLSettings] = {
    "rml-paper": RMLSettings(alpha=1.0, beta=0.5, tau=4.0, negatives="mirror", confidence="original"),
    "uniform": RMLSettings(),
    "flat": RMLSettings(alpha=1.0, beta=1.0, tau=1.0, negatives="uniform", confidence=0.9, ce_weight=0.0,
                        flatness=0.1),
}
DEFAULT_RECIPE = "uniform"


def recipe_settings(recipe: str, overrides: dict | None = None) -> RMLSettings:
    """The settings of ``recipe`` with every override that is not None applied."""
    if recipe not in RECIPES:
        raise InputError(f"unknown RML recipe {recipe!r}; valid: {', '.join(RECIPES)}")
    return with_overrides(RECIPES[recipe], overrides, "RML setting(s)")


class RML(Method):
    name = "rml"

    def __init__(self, original: nn.Module, settings: RMLSettings | None = None, use_labels: bool = True,
                 attack: PGD | None = None, adv_weight: float = 1.0, recipe: str | None = None) -> None:
        self.original = frozen(original)
        self.rml = settings if settings is not None else RECIPES[DEFAULT_RECIPE]
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
        s = self.rml
        terms = rml_loss(logits, logits_original, target, s.alpha, s.beta, s.tau, s.negatives,
                         confidence=s.confidence, ce_weight=s.ce_weight, flatness=s.flatness)
        if self.attack is not None:
            x_adv = self.attack(model, x, target)
            terms["loss_ce_adv"] = self.adv_weight * F.cross_entropy(model(x_adv).float(), target)
        return total(terms, logits)

    def settings(self):
        return {"method": self.name, **asdict(self.rml), "use_labels": self.use_labels,
                "attack": self.attack.settings() if self.attack else None,
                "adv_weight": self.adv_weight if self.attack else None,
                **({"recipe": self.recipe} if self.recipe is not None else {})}


def _rml_check(options: ProtectOptions) -> None:
    recipe_settings(options.recipe, options.rml)  # every setting is checked before any data or model is loaded


def _rml_build(original: nn.Module, options: ProtectOptions) -> tuple[nn.Module, RML]:
    protected = copy.deepcopy(original).requires_grad_(True)  # the original may arrive frozen (e.g. a teacher)
    attack = options.attack.pgd("ce") if options.attack.steps > 0 else None
    return protected, RML(original, recipe_settings(options.recipe, options.rml), use_labels=options.use_labels,
                          attack=attack, adv_weight=options.adv_weight, recipe=options.recipe)


PROTECTIONS.add("rml", Protection(_rml_build, epochs=5, lr=0.01, check=_rml_check))

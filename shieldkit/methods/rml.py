"""RML protection step: fine-tune a copy of the original with ``rml_loss`` (see losses/rml.py).

The frozen original runs under ``torch.no_grad()`` in the same autocast: one extra forward, no
extra backward. With ``use_labels=False`` the target is the original's argmax (pseudo-labels), so
protection needs no labelled data and keeps the original's decision on every training image.

Named recipes (:data:`RECIPES`) fix every hyper-parameter of a variant; ``protect`` starts from one
and lets any setting be overridden.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..attacks import AttackSettings
from ..errors import InputError
from ..losses.rml import NEGATIVE_TARGETS, TEMPLATE_MARGIN, parse_confidence, rml_loss
from ..settings import as_settings, check_settings, setting, with_overrides
from .base import Method, frozen, move_frozen, total
from .options import PROTECTIONS, Protection


@dataclass(frozen=True)
class RMLSettings:
    """RML's loss, L = w_ce·CE(z_p, t) + α·L_bin + β·L_neg + λ·L_flat + μ·L_tpl (losses/rml.py, docs/rml.md): every weight
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
    template: float = setting(0.0, "weight μ of the logit-template term: mean squared distance of the centred "
                              "logits to M·onehot(t), a decision-shaped output at every temperature", minimum=0)
    template_margin: float = setting(TEMPLATE_MARGIN, "margin M of the logit template (log 81: the decision at 0.9 "
                                     "among 10 classes)", above=0)
    use_labels: bool = setting(True, "target t: the labels (default), or the original's argmax (no labelled data "
                               "needed)", flag="--labels/--no-labels")
    attack: AttackSettings | None = setting(None, "robust RML: + adv_weight·CE(f(x_adv), t) on PGD examples with "
                                            "this budget (keeps a hardened model robust); None or 0 steps: off")
    adv_weight: float = setting(1.0, "weight of the adversarial CE term of robust RML", minimum=0)
    # the named recipe these settings started from: recorded with the run, compared with nothing
    recipe: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_settings(self)
        if self.attack is not None:
            attack = as_settings(AttackSettings, {"steps": 0, **self.attack} if isinstance(self.attack, dict)
                                 else self.attack, "attack=")
            object.__setattr__(self, "attack", attack if attack.steps > 0 else None)
        try:
            object.__setattr__(self, "confidence", parse_confidence(self.confidence))
        except ValueError as e:
            raise InputError(str(e)) from None


# name -> RML settings. "rml-paper" is the reading of the paper (reverse the negatives, keep each image's
# confidence); "uniform" (the default: the smallest accuracy cost measured, benchmarks/README.md's protect
# frontier; it does not stop a recalibrating attacker) removes the negatives' ranking; "flat" also fixes the
# confidence and flattens the negative logits; "template" pulls the logits to a decision-shaped vector
# (docs/rml.md).
RECIPES: dict[str, RMLSettings] = {name: replace(settings, recipe=name) for name, settings in {
    "rml-paper": RMLSettings(alpha=1.0, beta=0.5, tau=4.0, negatives="mirror", confidence="original"),
    "uniform": RMLSettings(),
    "flat": RMLSettings(alpha=1.0, beta=1.0, tau=1.0, negatives="uniform", confidence=0.9, ce_weight=0.0,
                        flatness=0.1),
    # the logit-template hypothesis (docs/rml.md): CE on the original's decision + μ·L_tpl, nothing else;
    # benchmarks/protect_frontier.py --variants template measures it
    "template": RMLSettings(alpha=0.0, beta=0.0, use_labels=False, template=3.0),
}.items()}
DEFAULT_RECIPE = "uniform"


def recipe_settings(recipe: str, overrides: dict | None = None) -> RMLSettings:
    """The settings of ``recipe`` with every override that is not None applied."""
    if recipe not in RECIPES:
        raise InputError(f"unknown RML recipe {recipe!r}; valid: {', '.join(RECIPES)}")
    return with_overrides(RECIPES[recipe], overrides, "RML setting(s)")


def rml_settings(value: RMLSettings | Mapping[str, Any] | str | None) -> RMLSettings:
    """``protect``'s RML settings: an :class:`RMLSettings` as it is; a recipe name; None (the default recipe); or
    a mapping of overrides of the recipe it names under ``"recipe"`` (default: :data:`DEFAULT_RECIPE`)."""
    if isinstance(value, RMLSettings):
        return value
    if value is None or isinstance(value, str):
        return recipe_settings(value or DEFAULT_RECIPE)
    if not isinstance(value, Mapping):
        raise InputError(f"settings= takes an RMLSettings or a mapping of its fields, not {type(value).__name__}")
    overrides = dict(value)
    return recipe_settings(overrides.pop("recipe", None) or DEFAULT_RECIPE, overrides)


def recipe_name(settings: RMLSettings) -> str | None:
    """The recipe ``settings`` started from, else the one they equal, if any (recorded with the run)."""
    return settings.recipe or next((name for name, recipe in RECIPES.items() if recipe == settings), None)


class RML(Method):
    name = "rml"

    def __init__(self, original: nn.Module, settings: RMLSettings | None = None) -> None:
        self.original = frozen(original)
        self.rml = settings if settings is not None else RECIPES[DEFAULT_RECIPE]
        self.attack = self.rml.attack.pgd("ce") if self.rml.attack is not None else None

    def to(self, device, channels_last=False):
        self.original = move_frozen(self.original, device, channels_last)
        return self

    def step(self, model, x, y, *extras):
        with torch.no_grad():
            logits_original = self.original(x)
        s = self.rml
        target = y if s.use_labels else logits_original.argmax(dim=1)
        logits = model(x)
        terms = rml_loss(logits, logits_original, target, s.alpha, s.beta, s.tau, s.negatives,
                         confidence=s.confidence, ce_weight=s.ce_weight, flatness=s.flatness,
                         template=s.template, template_margin=s.template_margin)
        if self.attack is not None:
            x_adv = self.attack(model, x, target)
            terms["loss_ce_adv"] = s.adv_weight * F.cross_entropy(model(x_adv).float(), target)
        return total(terms, logits)

    def settings(self):
        recorded = {k: v for k, v in asdict(self.rml).items() if k not in ("attack", "adv_weight", "recipe")}
        return {"method": self.name, **recorded, "attack": self.attack.settings() if self.attack else None,
                "adv_weight": self.rml.adv_weight if self.attack else None, "recipe": recipe_name(self.rml)}


def _rml_build(original: nn.Module, settings: RMLSettings) -> tuple[nn.Module, RML]:
    protected = copy.deepcopy(original).requires_grad_(True)  # the original may arrive frozen (e.g. a teacher)
    return protected, RML(original, settings)


PROTECTIONS.add("rml", Protection(_rml_build, rml_settings, epochs=5, lr=0.01))

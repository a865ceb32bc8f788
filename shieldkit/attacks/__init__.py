"""Adversarial attacks, one per module, each a callable ``attack(model, images, labels) -> adv_images``.

``create_attack(name, **settings)`` builds one by name: fgsm, pgd, cw, autoattack, square.
"""

from .autoattack import AutoAttack
from .base import ATTACKS, DEFAULT_EPS, DEFAULT_STEP_SIZE, Attack, project
from .budget import AttackSettings
from .cw import CWInf
from .fgsm import FGSM
from .objectives import ce_objective, cw_margin_objective, kl_objective
from .pgd import PGD
from .square import ScoreModule, Square


def create_attack(name: str, **settings) -> Attack:
    return ATTACKS.get(name)(**settings)


__all__ = ["ATTACKS", "DEFAULT_EPS", "DEFAULT_STEP_SIZE", "Attack", "AttackSettings", "AutoAttack", "CWInf", "FGSM", "PGD", "ScoreModule", "Square", "ce_objective",
           "create_attack", "cw_margin_objective", "kl_objective", "project"]

"""ARD, Adversarial Ranking Distillation (docs/ard.md): RSLAD's KL terms plus multi-level ranking consistency.

Per step: RSLAD's views (T(x), x', S(x'), S(x)), then T(x') under no_grad (the one forward RSLAD does
not need), then ``ard_ranking_loss``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..attacks import PGD
from ..losses.adversarial import ARD_LEVELS, ard_ranking_loss, check_levels
from .base import total
from .options import HARDENING, Hardening, HardenSettings
from .rslad import RSLAD


class ARD(RSLAD):
    name = "ard"

    def __init__(self, teacher: nn.Module, levels=ARD_LEVELS, lambdas=(1.0, 1.0, 1.0), gamma: float = 1.0,
                 base: str = "rslad", attack: PGD | None = None, max_pairs: int | None = 4096) -> None:
        levels = check_levels(levels)
        if len(tuple(lambdas)) != 3:
            raise ValueError(f"ARD needs three lambdas (cat, sample, disc), got {tuple(lambdas)}")
        super().__init__(teacher, attack)
        self.levels, self.lambdas = levels, tuple(float(v) for v in lambdas)
        self.gamma, self.base, self.max_pairs = float(gamma), base, max_pairs

    def step(self, model, x, y, *extras):
        teacher_clean, x_adv, student_adv, student_clean = self.views(model, x, y)
        with torch.no_grad():
            teacher_adv = self.teacher(x_adv)
        terms = ard_ranking_loss(student_adv, student_clean, teacher_adv, teacher_clean, y, levels=self.levels,
                                 lambdas=self.lambdas, gamma=self.gamma, base=self.base, max_pairs=self.max_pairs)
        return total(terms, student_adv)

    def settings(self):
        return {"method": self.name, "levels": list(self.levels), "lambdas": list(self.lambdas), "gamma": self.gamma,
                "base": self.base, "max_pairs": self.max_pairs, "attack": self.attack.settings()}


def _ard_for_harden(teacher: nn.Module, options: HardenSettings) -> ARD:
    return ARD(teacher, levels=options.levels, lambdas=options.lambdas, gamma=options.gamma, base=options.base,
               attack=options.attack.pgd(options.inner))


HARDENING.add("ard", Hardening(_ard_for_harden))

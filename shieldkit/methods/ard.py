"""ARD, Adversarial Ranking Distillation (docs/ard.md): RSLAD's KL terms plus multi-level ranking consistency.

Per step: T(x) (no grad) → x' = PGD on the student (KL to T(x) by default, or CE) → S(x'), S(x) →
T(x') (no grad, the one forward RSLAD does not need) → ``ard_ranking_loss``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..attacks import PGD
from ..losses.adversarial import ARD_LEVELS, ard_ranking_loss
from .base import METHODS, Method, frozen, move_frozen, total


@METHODS.register("ard")
class ARD(Method):
    name = "ard"

    def __init__(self, teacher: nn.Module, levels=ARD_LEVELS, lambdas=(1.0, 1.0, 1.0), gamma: float = 1.0,
                 base: str = "rslad", attack: PGD | None = None, max_pairs: int | None = 4096) -> None:
        levels = tuple(levels)
        unknown = set(levels) - set(ARD_LEVELS)
        if unknown:
            raise ValueError(f"unknown ARD level(s) {sorted(unknown)}; valid: {', '.join(ARD_LEVELS)}")
        if len(tuple(lambdas)) != 3:
            raise ValueError(f"ARD needs three lambdas (cat, sample, disc), got {tuple(lambdas)}")
        self.teacher = frozen(teacher)
        self.levels, self.lambdas = levels, tuple(float(v) for v in lambdas)
        self.gamma, self.base, self.max_pairs = float(gamma), base, max_pairs
        self.attack = attack or PGD(loss="kl")

    def to(self, device, channels_last=False):
        self.teacher = move_frozen(self.teacher, device, channels_last)
        return self

    def step(self, model, x, y, *extras):
        with torch.no_grad():
            teacher_clean = self.teacher(x)
        x_adv = self.attack(model, x, y, reference=teacher_clean)
        student_adv = model(x_adv)
        student_clean = model(x)
        with torch.no_grad():
            teacher_adv = self.teacher(x_adv)
        terms = ard_ranking_loss(student_adv, student_clean, teacher_adv, teacher_clean, y, levels=self.levels,
                                 lambdas=self.lambdas, gamma=self.gamma, base=self.base, max_pairs=self.max_pairs)
        return total(terms, student_adv)

    def settings(self):
        return {"method": self.name, "levels": list(self.levels), "lambdas": list(self.lambdas), "gamma": self.gamma,
                "base": self.base, "max_pairs": self.max_pairs, "attack": self.attack.settings()}

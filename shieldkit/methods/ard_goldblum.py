"""ARD of Goldblum et al. (2020), "Adversarially Robust Distillation": the KD baseline for ``harden``.

x' = PGD-CE on the student; loss ``ard_goldblum_loss`` (teacher's clean outputs at temperature τ).
"""

from __future__ import annotations

import torch
from torch import nn

from ..attacks import PGD
from ..losses.adversarial import ard_goldblum_loss
from .base import TeacherMethod, total
from .options import HARDENING, Hardening


class ARDGoldblum(TeacherMethod):
    name = "ard-goldblum"

    def __init__(self, teacher: nn.Module, alpha: float = 1.0, tau: float = 30.0, attack: PGD | None = None) -> None:
        super().__init__(teacher)
        self.alpha, self.tau = float(alpha), float(tau)
        self.attack = attack or PGD(loss="ce")

    def step(self, model, x, y, *extras):
        x_adv = self.attack(model, x, y)
        with torch.no_grad():
            teacher_clean = self.teacher(x)
        student_adv = model(x_adv)
        student_clean = model(x) if self.alpha < 1.0 else None
        return total(ard_goldblum_loss(student_adv, teacher_clean, y, student_clean, self.alpha, self.tau), student_adv)

    def settings(self):
        return {"method": self.name, "alpha": self.alpha, "tau": self.tau, "attack": self.attack.settings()}


HARDENING.add("ard-goldblum", Hardening(lambda teacher, options: ARDGoldblum(
    teacher, options.goldblum_alpha, options.goldblum_tau, options.attack.pgd("ce"))))

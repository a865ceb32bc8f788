"""RSLAD (Zi et al. 2021): distil a robust teacher's clean soft labels on the student's adversarial examples.

x' = PGD on KL(T(x) ‖ S(x')) from a small Gaussian start; loss ``rslad_loss``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..attacks import PGD
from ..losses.adversarial import rslad_loss
from .base import TeacherMethod, total
from .options import HARDENING, Hardening


class RSLAD(TeacherMethod):
    name = "rslad"

    def __init__(self, teacher: nn.Module, attack: PGD | None = None) -> None:
        super().__init__(teacher)
        self.attack = attack or PGD(loss="kl")

    def views(self, model, x, y) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(T(x), x', S(x'), S(x)): the teacher's clean logits (no grad), the adversarial images, the student's logits."""
        with torch.no_grad():
            teacher_clean = self.teacher(x)
        x_adv = self.attack(model, x, y, reference=teacher_clean)
        return teacher_clean, x_adv, model(x_adv), model(x)

    def step(self, model, x, y, *extras):
        teacher_clean, _, student_adv, student_clean = self.views(model, x, y)
        return total(rslad_loss(student_adv, student_clean, teacher_clean), student_adv)

    def settings(self):
        return {"method": self.name, "attack": self.attack.settings()}


HARDENING.add("rslad", Hardening(lambda teacher, options: RSLAD(teacher, options.attack.pgd("kl"))))

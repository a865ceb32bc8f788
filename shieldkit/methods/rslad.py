"""RSLAD (Zi et al. 2021): distil a robust teacher's clean soft labels on the student's adversarial examples.

x' = PGD on KL(T(x) ‖ S(x')) from a small Gaussian start; loss ``rslad_loss``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..attacks import PGD
from ..losses.adversarial import rslad_loss
from .base import METHODS, Method, frozen, move_frozen, total


@METHODS.register("rslad")
class RSLAD(Method):
    name = "rslad"

    def __init__(self, teacher: nn.Module, attack: PGD | None = None) -> None:
        self.teacher = frozen(teacher)
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
        return total(rslad_loss(student_adv, student_clean, teacher_clean), student_adv)

    def settings(self):
        return {"method": self.name, "attack": self.attack.settings()}

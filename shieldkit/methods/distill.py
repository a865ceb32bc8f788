"""Hinton KD of a student from a teacher's logits (the attacker's step in the KD probe).

The teacher's logits arrive with the batch (``step(model, x, y, teacher_logits)``), so one pass of
the teacher over the attacker's data can serve every temperature the attacker tries.
"""

from __future__ import annotations

import torch.nn.functional as F

from ..losses.kd import hinton_kd_loss
from .base import Method, total


class HintonKD(Method):
    name = "kd"

    def __init__(self, alpha: float = 0.9, tau: float = 4.0) -> None:
        self.alpha, self.tau = float(alpha), float(tau)

    def step(self, model, x, y, teacher_logits=None, *extras):
        if teacher_logits is None:
            raise ValueError("the kd method needs teacher logits with every batch")
        logits = model(x)
        return total(hinton_kd_loss(logits.float(), teacher_logits.float(), y, self.alpha, self.tau), logits)

    def settings(self):
        return {"method": self.name, "alpha": self.alpha, "tau": self.tau}


class PseudoLabel(Method):
    """The top-1 attacker: L = CE(z_s, argmax z_t), the teacher's hard decision as the only label.

    It ignores everything but the teacher's argmax, so it defeats any scheme that only distorts the
    soft outputs; against a protected model it should do no better than the hard-label baseline.
    """

    name = "pseudo-label"

    def step(self, model, x, y, teacher_logits=None, *extras):
        if teacher_logits is None:
            raise ValueError("the pseudo-label method needs teacher logits with every batch")
        logits = model(x)
        return total({"loss_ce": F.cross_entropy(logits.float(), teacher_logits.argmax(1))}, logits)

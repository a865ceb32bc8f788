"""Hinton KD of a student from a teacher's logits (the attacker's step in the KD probe).

The teacher's logits arrive with the batch (``step(model, x, y, teacher_logits)``), so one pass of
the teacher over the attacker's data can serve every temperature the attacker tries.
"""

from __future__ import annotations

import torch.nn.functional as F

from ..losses.kd import hinton_kd_loss
from ..losses.skeptical import skeptical_loss
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


class SkepticalKD(Method):
    """The Skeptical Student (Kundu et al., NeurIPS 2021): the teacher's outputs distilled into a shallow auxiliary
    head only, the final head trained on labels, the deepest auxiliary head self-distilled from the final one
    (:func:`~shieldkit.losses.skeptical.skeptical_loss`). The model is an
    :class:`~shieldkit.models.auxiliary_heads.AuxiliaryHeads`; ``depth`` picks the head the teacher reaches,
    counted from the first stage (0: the shallowest)."""

    name = "skeptical"

    def __init__(self, alpha: float = 0.9, tau: float = 4.0, self_weight: float = 0.3, depth: int = 0) -> None:
        self.alpha, self.tau, self.self_weight, self.depth = float(alpha), float(tau), float(self_weight), int(depth)

    def step(self, model, x, y, teacher_logits=None, *extras):
        if teacher_logits is None:
            raise ValueError("the skeptical method needs teacher logits with every batch")
        final, *inner = model.heads(x)  # inner: deepest first
        shallow = inner[::-1][min(self.depth, len(inner) - 1)]
        return total(skeptical_loss(final, inner[0], shallow, teacher_logits.float(), y, self.alpha, self.tau,
                                    self.self_weight), final)

    def settings(self):
        return {"method": self.name, "alpha": self.alpha, "tau": self.tau, "self_weight": self.self_weight,
                "depth": self.depth}

"""PGD (Madry et al. 2018): projected signed-gradient ascent from a random start in the ε-ball."""

from __future__ import annotations

import torch

from .base import ATTACKS, DEFAULT_EPS, DEFAULT_STEP_SIZE, Attack, input_gradient, project
from .objectives import OBJECTIVES

STARTS = ("auto", "uniform", "normal", "none")


@ATTACKS.register("pgd")
class PGD(Attack):
    """x^{k+1} = Π_{B_ε(x)∩[0,1]}( x^k + α · sign(∇_x L(f(x^k), y, r)) ),  k = 0..steps−1.

    ``loss``: ``ce`` (Madry), ``kl`` (TRADES/RSLAD: KL(softmax(r) ‖ softmax(f(x'))), ``reference``
    r passed to the call or, if omitted, the model's own clean logits) or ``cw`` (margin).
    ``start``: ``uniform`` x^0 = x + U(−ε, ε); ``normal`` x^0 = x + 0.001·N(0, 1) (TRADES/RSLAD);
    ``none`` x^0 = x; ``auto`` picks ``normal`` for ``kl`` and ``uniform`` otherwise.
    """

    name = "pgd"

    def __init__(self, eps: float = DEFAULT_EPS, alpha: float = DEFAULT_STEP_SIZE, steps: int = 10, loss: str = "ce",
                 start: str = "auto") -> None:
        super().__init__(eps)
        if loss not in OBJECTIVES:
            raise ValueError(f"PGD loss must be one of {tuple(OBJECTIVES)}, got {loss!r}")
        if start not in STARTS:
            raise ValueError(f"PGD start must be one of {STARTS}, got {start!r}")
        if steps < 1 or alpha <= 0:
            raise ValueError(f"PGD needs steps >= 1 and alpha > 0, got steps={steps}, alpha={alpha}")
        self.alpha, self.steps, self.loss = float(alpha), int(steps), loss
        self.start = ("normal" if loss == "kl" else "uniform") if start == "auto" else start

    def perturb(self, model, images, labels, reference: torch.Tensor | None = None, **kw):
        objective = OBJECTIVES[self.loss]
        if self.loss == "kl" and reference is None:
            with torch.no_grad():
                reference = model(images)
        if self.start == "uniform":
            x_adv = images + torch.empty_like(images).uniform_(-self.eps, self.eps)
        elif self.start == "normal":
            x_adv = images + 0.001 * torch.randn_like(images)
        else:
            x_adv = images.clone()
        x_adv = project(x_adv, images, self.eps)
        for _ in range(self.steps):
            x_adv.requires_grad_(True)
            grad = input_gradient(objective(model(x_adv), labels, reference), x_adv)
            x_adv = project(x_adv.detach() + self.alpha * grad.sign(), images, self.eps)
        return x_adv

    def settings(self):
        return {**super().settings(), "alpha": self.alpha, "steps": self.steps, "loss": self.loss, "start": self.start}

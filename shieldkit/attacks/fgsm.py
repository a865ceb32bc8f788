"""FGSM (Goodfellow et al. 2015): one signed-gradient step of size ε."""

from __future__ import annotations

from .base import ATTACKS, Attack, input_gradient
from .objectives import ce_objective


@ATTACKS.register("fgsm")
class FGSM(Attack):
    """x' = clip_[0,1]( x + ε · sign(∇_x CE(f(x), y)) )."""

    name = "fgsm"

    def perturb(self, model, images, labels, **kw):
        x = images.clone().requires_grad_(True)
        grad = input_gradient(ce_objective(model(x), labels), x)
        return images + self.eps * grad.sign()

"""The attack protocol: ``attack(model, images, labels) -> adv_images``.

Every attack is a small callable object holding its settings (torchattacks style), but the model
is an argument of the call, so one attack object serves a model that changes every training step.
During the call the model is in eval mode (restored afterwards), gradients flow to the inputs only,
and the result lies in the ℓ∞ ball of radius ``eps`` around ``images`` and in [0, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..distributed import unwrap
from ..registry import Registry

ATTACKS: Registry[type] = Registry("attack")


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Π(x') = clip_[0,1]( clip_[x−ε, x+ε](x') ): the nearest point of the ℓ∞ ball ∩ the image box."""
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)


# the ℓ∞ threat model every command defaults to, on [0, 1] inputs: declared here once
DEFAULT_EPS = 8 / 255
DEFAULT_STEP_SIZE = 2 / 255


class Attack:
    """Base class: subclasses implement ``perturb(model, images, labels, **kw)``."""

    name = "attack"

    def __init__(self, eps: float = DEFAULT_EPS) -> None:
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"eps must be in [0, 1] (inputs are in [0, 1]), got {eps}")
        self.eps = float(eps)

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **kw: Any) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **kw: Any) -> torch.Tensor:
        model = unwrap(model)  # under DDP: attack the module itself, no gradient sync for input gradients
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():
                adv = self.perturb(model, images.detach(), labels.detach(), **kw)
        finally:
            model.train(was_training)
        return project(adv.detach(), images.detach(), self.eps)

    def settings(self) -> dict[str, Any]:
        return {"attack": self.name, "eps": self.eps}


def input_gradient(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂loss/∂x only: parameter gradients are neither computed nor accumulated."""
    (grad,) = torch.autograd.grad(loss, x, only_inputs=True)
    return grad

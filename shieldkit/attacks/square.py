"""Square Attack (Andriushchenko et al. 2020): score-based random search, needs no gradients.

It only calls the model forward, so it runs against an ONNX Runtime session wrapped as a module
(:class:`ScoreModule`). From torchattacks.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .base import ATTACKS, DEFAULT_EPS, Attack
from .third_party import torchattacks


class ScoreModule(nn.Module):
    """A forward-only module around any ``images -> logits`` callable (e.g. an ONNX Runtime oracle)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn
        self._anchor = nn.Parameter(torch.zeros(()), requires_grad=False)  # lets libraries find a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.as_tensor(self.fn(x)).to(x.device).float()


@ATTACKS.register("square")
class Square(Attack):
    """Margin-loss random search over square-shaped ℓ∞ perturbations, ``queries`` forward passes per image."""

    name = "square"

    def __init__(self, eps: float = DEFAULT_EPS, queries: int = 1000, seed: int = 0) -> None:
        super().__init__(eps)
        self.queries, self.seed = int(queries), int(seed)

    def perturb(self, model, images, labels, **kw):
        attack = torchattacks().Square(model, norm="Linf", eps=self.eps, n_queries=self.queries, n_restarts=1,
                                       seed=self.seed)
        attack.set_device(images.device)
        with torch.no_grad():
            return attack(images.contiguous(), labels)

    def settings(self):
        return {**super().settings(), "queries": self.queries, "seed": self.seed}

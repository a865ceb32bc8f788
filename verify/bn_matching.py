"""BatchNorm-statistics matching (DeepInversion): make generated images look, to the teacher's BN
layers, like the data the teacher was trained on. White-box only: it reads the teacher's layers."""

from __future__ import annotations

import torch
from torch import nn


class BNStatistics:
    """Forward hooks on every BatchNorm2d of ``model``; after a forward, :meth:`loss` is

    L_BN = Σ_l ‖μ_l(x) − μ_l^running‖₂ + ‖σ²_l(x) − σ²_l^running‖₂,

    with μ_l, σ²_l the per-channel batch mean and variance of layer l's input.
    """

    def __init__(self, model: nn.Module) -> None:
        self.terms: list[torch.Tensor] = []
        self.active = False  # record only while True (the generator's differentiable teacher pass)
        self.handles = [m.register_forward_hook(self._hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)
                        and m.running_mean is not None]

    def __len__(self) -> int:
        return len(self.handles)

    def _hook(self, module: nn.BatchNorm2d, inputs, output) -> None:
        if not self.active:
            return
        x = inputs[0].float()
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        self.terms.append(torch.norm(mean - module.running_mean, 2) + torch.norm(var - module.running_var, 2))

    def loss(self) -> torch.Tensor:
        out = torch.stack(self.terms).sum() if self.terms else torch.zeros(())
        self.terms = []
        return out

    def clear(self) -> None:
        self.terms = []

    def remove(self) -> None:
        for h in self.handles:
            h.remove()

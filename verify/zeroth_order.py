"""Zeroth-order gradient estimates: the black-box attacker's substitute for backpropagation (DFME)."""

from __future__ import annotations

from typing import Callable

import torch


def zo_gradient(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, directions: int = 1,
                epsilon: float = 1e-3, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward-difference estimate of ∇ₓ L for a per-sample loss ``loss_fn(x) -> (N,)``.

    ĝᵢ = (d / m) · Σⱼ [(L(xᵢ + ε·uⱼ) − L(xᵢ)) / ε] · uⱼ, with uⱼ uniform on the unit sphere of
    dimension d = C·H·W and m = ``directions``. Unbiased for ε → 0 up to O(ε); costs N·(m + 1)
    evaluations of ``loss_fn`` in one batch. Returns ``(ĝ, L(x))``.
    """
    n = len(x)
    d = x[0].numel()
    u = torch.randn(directions, *x.shape, generator=generator, device="cpu").to(x.device, x.dtype)
    u = u / u.flatten(2).norm(dim=2).clamp_min(1e-12).view(directions, n, *([1] * (x.dim() - 1)))
    batch = torch.cat([x, (x.unsqueeze(0) + epsilon * u).flatten(0, 1)])
    losses = loss_fn(batch)
    base, moved = losses[:n], losses[n:].view(directions, n)
    coeff = (moved - base.unsqueeze(0)) / epsilon * (d / directions)
    grad = (coeff.view(directions, n, *([1] * (x.dim() - 1))) * u).sum(0)
    return grad, base

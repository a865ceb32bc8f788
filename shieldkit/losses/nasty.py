"""Nasty Teacher (Ma et al., ICLR 2021): a baseline anti-distillation method."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nasty_loss(logits: torch.Tensor, logits_adversary: torch.Tensor, target: torch.Tensor, tau: float,
               omega: float) -> dict[str, torch.Tensor]:
    """L = CE(z, y) − ω·τ²·KL(σ(z/τ) || σ(z_a/τ)), batchmean.

    The model being trained is the first argument of the KL; ``logits_adversary`` come from a
    normally trained network and are a constant.
    """
    log_p = F.log_softmax(logits.float() / tau, dim=1)
    log_p_adv = F.log_softmax(logits_adversary.detach().float() / tau, dim=1)
    kl = (log_p.exp() * (log_p - log_p_adv)).sum(dim=1).mean()
    return {"loss_ce": F.cross_entropy(logits.float(), target), "loss_adv": -omega * tau**2 * kl}

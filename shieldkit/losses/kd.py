"""Hinton knowledge distillation (Hinton, Vinyals, Dean 2015)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(logits_student: torch.Tensor, logits_teacher: torch.Tensor, tau: float) -> torch.Tensor:
    """L_KD = τ² · KL(σ(z_t/τ) || σ(z_s/τ)), averaged over the batch ('batchmean')."""
    log_p_s = F.log_softmax(logits_student / tau, dim=1)
    log_p_t = F.log_softmax(logits_teacher / tau, dim=1)
    return F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True) * tau**2


def hinton_kd_loss(logits_student: torch.Tensor, logits_teacher: torch.Tensor, target: torch.Tensor | None,
                   alpha: float, tau: float) -> dict[str, torch.Tensor]:
    """L = (1 − α)·CE(z_s, y) + α·τ²·KL(σ(z_t/τ) || σ(z_s/τ)). With α = 1 no label is used."""
    terms = {"loss_kd": alpha * kd_loss(logits_student, logits_teacher, tau)}
    if alpha < 1.0:
        if target is None:
            raise ValueError("hinton_kd_loss needs targets when alpha < 1")
        terms["loss_ce"] = (1.0 - alpha) * F.cross_entropy(logits_student, target)
    return terms

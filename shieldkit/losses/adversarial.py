"""Losses of adversarial training and adversarial distillation (the baselines ARD is compared to).

KL(p ‖ q) below is batchmean Σ_c p_c (log p_c − log q_c) with p the (constant) teacher side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .ranking import categorical_ranking_loss, discrepancy_ranking_loss, sample_ranking_loss

ARD_LEVELS = ("cat", "sample", "disc")


def kl_from_logits(logits_target: torch.Tensor, logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """KL( softmax(z_t/τ) ‖ softmax(z/τ) ), batchmean; the target side is detached."""
    p = F.softmax(logits_target.detach().float() / tau, dim=1)
    return (torch.xlogy(p, p) - p * F.log_softmax(logits.float() / tau, dim=1)).sum(dim=1).mean()


def trades_loss(logits_clean: torch.Tensor, logits_adv: torch.Tensor, labels: torch.Tensor,
                beta: float = 6.0) -> dict[str, torch.Tensor]:
    """TRADES (Zhang et al. 2019): CE(f(x), y) + β · KL( softmax(f(x)) ‖ softmax(f(x')) ), gradient through both."""
    p = F.softmax(logits_clean.float(), dim=1)
    kl = (torch.xlogy(p, p) - p * F.log_softmax(logits_adv.float(), dim=1)).sum(dim=1).mean()
    return {"loss_ce": F.cross_entropy(logits_clean.float(), labels), "loss_trades": beta * kl}


def rslad_loss(student_adv: torch.Tensor, student_clean: torch.Tensor,
               teacher_clean: torch.Tensor) -> dict[str, torch.Tensor]:
    """RSLAD (Zi et al. 2021): 5/6 · KL(T(x) ‖ S(x')) + 1/6 · KL(T(x) ‖ S(x)) — robust soft labels, no hard labels."""
    return {"loss_kl_adv": 5.0 / 6.0 * kl_from_logits(teacher_clean, student_adv),
            "loss_kl_clean": 1.0 / 6.0 * kl_from_logits(teacher_clean, student_clean)}


def ard_goldblum_loss(student_adv: torch.Tensor, teacher_clean: torch.Tensor, labels: torch.Tensor,
                      student_clean: torch.Tensor | None = None, alpha: float = 1.0,
                      tau: float = 30.0) -> dict[str, torch.Tensor]:
    """ARD of Goldblum et al. (2020): α·τ²·KL(T(x)/τ ‖ S(x')/τ) + (1 − α)·CE(S(x), y)."""
    terms = {"loss_kd_adv": alpha * tau**2 * kl_from_logits(teacher_clean, student_adv, tau)}
    if alpha < 1.0:
        if student_clean is None:
            raise ValueError("ARD (Goldblum) with alpha < 1 needs the student's clean logits")
        terms["loss_ce"] = (1.0 - alpha) * F.cross_entropy(student_clean.float(), labels)
    return terms


def check_levels(levels) -> tuple[str, ...]:
    """``levels`` as a tuple without repeats, each one of :data:`ARD_LEVELS` (else ``ValueError``): the one check
    of ARD's levels, used by the loss, the ARD step and ``harden``'s options."""
    levels = tuple(dict.fromkeys(levels))
    unknown = [level for level in levels if level not in ARD_LEVELS]
    if unknown:
        raise ValueError(f"unknown ARD level(s) {unknown}; valid: {', '.join(ARD_LEVELS)}")
    return levels


def ard_ranking_loss(student_adv: torch.Tensor, student_clean: torch.Tensor, teacher_adv: torch.Tensor,
                     teacher_clean: torch.Tensor, labels: torch.Tensor, *, levels=ARD_LEVELS,
                     lambdas=(1.0, 1.0, 1.0), gamma: float = 1.0, base: str = "rslad",
                     max_pairs: int | None = 4096) -> dict[str, torch.Tensor]:
    """ARD (docs/ard.md): L = L_base + λ1·L_cat + λ2·L_sample + λ3·L_disc.

    L_base: the RSLAD KL terms (``base="rslad"``), CE on adversarial examples (``"ce"``) or nothing.
    The ranking levels compare S(x') with T(x') (cat, sample) and S(x') − S(x) with T(x') − T(x) (disc);
    ``levels`` selects which are on (ablation) and ``lambdas`` weighs (cat, sample, disc).
    """
    levels = check_levels(levels)
    if base == "rslad":
        terms = rslad_loss(student_adv, student_clean, teacher_clean)
    elif base == "ce":
        terms = {"loss_ce_adv": F.cross_entropy(student_adv.float(), labels)}
    elif base == "none":
        terms = {}
    else:
        raise ValueError(f"ARD base must be rslad, ce or none, got {base!r}")
    lam = dict(zip(ARD_LEVELS, lambdas))
    if "cat" in levels:
        terms["loss_rank_cat"] = lam["cat"] * categorical_ranking_loss(student_adv, teacher_adv, gamma, max_pairs)
    if "sample" in levels:
        terms["loss_rank_sample"] = lam["sample"] * sample_ranking_loss(student_adv, teacher_adv, gamma, max_pairs)
    if "disc" in levels:
        terms["loss_rank_disc"] = lam["disc"] * discrepancy_ranking_loss(student_adv, student_clean, teacher_adv,
                                                                         teacher_clean, gamma, max_pairs)
    if not terms:
        raise ValueError("ARD with base 'none' needs at least one ranking level")
    return terms

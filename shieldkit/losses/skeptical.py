"""The Skeptical Student's loss (Kundu, Sun, Fu, Pedram & Beerel, NeurIPS 2021, "Analyzing the Confidentiality of
Undistillable Teachers in Knowledge Distillation").

The student carries auxiliary classifiers on its intermediate stages. The teacher's outputs reach only a *shallow*
one; the final classifier learns from the labels alone, and the deepest auxiliary classifier learns from the final
one (self-distillation). What the teacher teaches thus shapes the shared early layers, while the misleading
structure of a nasty teacher's outputs never becomes the final classifier's target: the paper reports up to ~59
points over a normal KD student distilled from a nasty teacher.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .kd import kd_loss


def skeptical_loss(final: torch.Tensor, deep: torch.Tensor, shallow: torch.Tensor, teacher: torch.Tensor,
                   target: torch.Tensor, alpha: float, tau: float, self_weight: float = 0.3) -> dict[str, torch.Tensor]:
    """L = CE(z_f, y)                                                   (the final head: labels only)
         + α·τ²·KL(σ(z_t/τ) || σ(z_a/τ)) + (1 − α)·CE(z_a, y)           (the shallow head: Hinton KD)
         + w·KL(σ(z_f/τ) || σ(z_d/τ)) + (1 − w)·CE(z_d, y)              (the deepest auxiliary head: self-KD)

    ``final`` z_f, ``deep`` z_d and ``shallow`` z_a are the student's heads (``deep`` may be ``shallow`` when the
    student has a single auxiliary head), ``teacher`` z_t the teacher's logits, w = ``self_weight``. As in the
    authors' code, the self-distillation KL has no τ² factor and its target (the final head) is not detached."""
    terms = {"loss_ce": F.cross_entropy(final, target),
             "loss_kd": alpha * kd_loss(shallow, teacher, tau),
             "loss_shallow_ce": (1.0 - alpha) * F.cross_entropy(shallow, target)}
    log_deep = F.log_softmax(deep / tau, dim=1)
    terms["loss_self_kd"] = self_weight * F.kl_div(log_deep, F.log_softmax(final / tau, dim=1),
                                                   reduction="batchmean", log_target=True)
    terms["loss_deep_ce"] = (1.0 - self_weight) * F.cross_entropy(deep, target)
    return terms

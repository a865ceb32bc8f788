"""RML: Reversed Maximization Learning (Zhang, Li, Pan 2026), as read in docs/rml.md.

The protected model f_p keeps the original f_o's confidence in the target class (binary term)
and learns the original's negative-class distribution with its ranking inverted (reverse term),
so that the dark knowledge in its soft outputs points the wrong way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

REVERSE_MODES = ("mirror", "negate")


def target_mask(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Boolean (B, C) mask, True at the target class of each row."""
    return torch.zeros_like(logits, dtype=torch.bool).scatter_(1, target.view(-1, 1), True)


def binary_probs(logits: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    """b(z) = [p_t, 1 − p_t] with p = softmax(z/τ); shape (B, 2), rows sum to 1."""
    p_t = F.softmax(logits / tau, dim=1).gather(1, target.view(-1, 1))
    return torch.cat([p_t, 1.0 - p_t], dim=1)


def non_target_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """z_{¬t}: the C − 1 non-target logits of each row, in class order; shape (B, C − 1)."""
    b, c = logits.shape
    return logits[~target_mask(logits, target)].view(b, c - 1)


def reversed_negatives(logits_neg: torch.Tensor, tau: float, reverse: str = "mirror") -> torch.Tensor:
    """rev(q(z_o)): the target distribution over negatives, with the original ranking inverted.

    - ``mirror``: q = softmax(z_{¬t}/τ) sorted; the class with the k-th smallest probability receives the
      k-th largest value (same values and entropy, exactly inverted ranking);
    - ``negate``: softmax(−z_{¬t}/τ).
    """
    if reverse == "negate":
        return F.softmax(-logits_neg / tau, dim=1)
    if reverse != "mirror":
        raise ValueError(f"reverse must be one of {REVERSE_MODES}, got {reverse!r}")
    q = F.softmax(logits_neg / tau, dim=1)
    values, order = q.sort(dim=1)
    return torch.empty_like(q).scatter_(1, order, values.flip(1))


def _kl(p_target: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) = Σ p (log p − log q), averaged over rows ('batchmean'); 0·log 0 taken as 0."""
    return (torch.xlogy(p_target, p_target) - p_target * log_q).sum(dim=1).mean()


def binary_loss(logits_protected: torch.Tensor, logits_original: torch.Tensor, target: torch.Tensor,
                tau: float) -> torch.Tensor:
    """L_bin = τ² · KL(b(z_o) || b(z_p)), batchmean."""
    b_o = binary_probs(logits_original, target, tau)
    b_p = binary_probs(logits_protected, target, tau)
    return _kl(b_o, b_p.clamp_min(1e-12).log()) * tau**2


def reverse_loss(logits_protected: torch.Tensor, logits_original: torch.Tensor, target: torch.Tensor,
                 tau: float, reverse: str = "mirror") -> torch.Tensor:
    """L_rev = τ² · KL(rev(q(z_o)) || q(z_p)), q = softmax over the non-target classes at τ, batchmean."""
    rev = reversed_negatives(non_target_logits(logits_original, target), tau, reverse)
    log_q_p = F.log_softmax(non_target_logits(logits_protected, target) / tau, dim=1)
    return _kl(rev, log_q_p) * tau**2


def rml_loss(logits_protected: torch.Tensor, logits_original: torch.Tensor, target: torch.Tensor,
             alpha: float, beta: float, tau: float, reverse: str = "mirror") -> dict[str, torch.Tensor]:
    """L = CE(z_p, t) + α·L_bin + β·L_rev  (weighted terms returned by name; the caller sums them).

    ``target`` is the label, or argmax z_o for label-free protection (pseudo-labels).
    ``logits_original`` is treated as a constant (no gradient flows into the original model).
    """
    logits_original = logits_original.detach().float()
    logits_protected = logits_protected.float()
    return {
        "loss_ce": F.cross_entropy(logits_protected, target),
        "loss_bin": alpha * binary_loss(logits_protected, logits_original, target, tau),
        "loss_rev": beta * reverse_loss(logits_protected, logits_original, target, tau, reverse),
    }

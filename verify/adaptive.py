"""What an attacker may do to the oracle's logits before distilling them: pure functions of logits.

- :func:`topk_logits`: keep only the k largest outputs (top-k soft labels; k = 1 is a hard pseudo-label);
- :func:`unmirror_logits`: an attacker who knows RML's mirror defence undoes it, mirroring the non-argmax
  probabilities back (the k-th most likely negative becomes the k-th least likely);
- :func:`fit_temperature` / recalibration: an attacker who fits a temperature T on its own labelled
  images (minimum NLL of softmax(z/T)), so a defence that only rescales confidence is undone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MASKED_LOGIT = -1e4  # a logit whose softmax weight is 0 at every temperature an attacker uses


def topk_logits(logits: torch.Tensor, k: int) -> torch.Tensor:
    """z with every output outside the row's top ``k`` set to a very low logit: softmax(z'/τ) is the teacher's
    softmax(z/τ) restricted to its top k and renormalised."""
    k = max(1, min(int(k), logits.shape[1]))
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, logits.topk(k, dim=1).indices, True)
    return torch.where(keep, logits, torch.full_like(logits, MASKED_LOGIT))


def unmirror_logits(logits: torch.Tensor) -> torch.Tensor:
    """log p' where p = softmax(z) and p' keeps the argmax's probability and gives the non-argmax classes their
    probabilities in inverted order (the largest goes to the class that had the smallest, and so on).

    Applied to an output made by mirroring (RML ``mirror``), it restores the original ranking of the negatives."""
    p = F.softmax(logits.float(), dim=1)
    top = p.argmax(dim=1, keepdim=True)
    neg_mask = torch.ones_like(p, dtype=torch.bool).scatter_(1, top, False)
    b, c = p.shape
    neg = p[neg_mask].view(b, c - 1)
    values, order = neg.sort(dim=1)
    flipped = torch.empty_like(neg).scatter_(1, order, values.flip(1))
    out = p.clone()
    out[neg_mask] = flipped.flatten()
    return out.clamp_min(1e-30).log()


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor,
                    grid: torch.Tensor | None = None) -> float:
    """T minimising the NLL of softmax(z/T) on the attacker's labelled images, over a log grid 0.05..100."""
    grid = grid if grid is not None else torch.logspace(-1.3, 2.0, 67)
    z = logits.float()
    nll = torch.stack([F.cross_entropy(z / t, labels) for t in grid])
    return float(grid[int(nll.argmin())])

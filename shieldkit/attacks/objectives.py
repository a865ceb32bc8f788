"""What an attack maximises: small pure functions of (adversarial logits, labels, reference logits).

Each returns the per-batch **sum** (so the input gradient of one image does not depend on the batch
size); attacks ascend it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ce_objective(logits: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_i CE(z'_i, y_i) = Σ_i −log softmax(z'_i)[y_i]."""
    return F.cross_entropy(logits.float(), labels, reduction="sum")


def kl_objective(logits: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_i KL( softmax(r_i) ‖ softmax(z'_i) ): moves the output away from a reference distribution.

    ``reference`` r: the teacher's clean logits (RSLAD, ARD) or the model's own clean logits (TRADES).
    """
    if reference is None:
        raise ValueError("the KL objective needs reference logits")
    p = F.softmax(reference.detach().float(), dim=1)
    return (torch.xlogy(p, p) - p * F.log_softmax(logits.float(), dim=1)).sum()


def cw_margin_objective(logits: torch.Tensor, labels: torch.Tensor,
                        reference: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_i ( max_{j≠y_i} z'_ij − z'_iy_i ): the Carlini-Wagner margin; positive once the image is misclassified."""
    z = logits.float()
    z_true = z.gather(1, labels.view(-1, 1)).squeeze(1)
    z_other = z.masked_fill(F.one_hot(labels, z.shape[1]).bool(), float("-inf")).amax(dim=1)
    return (z_other - z_true).sum()


OBJECTIVES = {"ce": ce_objective, "kl": kl_objective, "cw": cw_margin_objective}

"""ARD ranking consistency (docs/ard.md): tanh-relaxed agreement of the orderings of two vectors.

For a teacher vector u and a student vector v of length n, over pairs P ⊆ {(i, j): i < j}:

    R_γ(u, v) = mean_{(i,j)∈P} ( tanh(γ·(u_i − u_j)) − tanh(γ·(v_i − v_j)) )²

tanh(γ·d) → sign(d) as γ grows, so R → 0 exactly when the two orderings agree (a "loose" ranking
constraint: order, not values). R only sees differences, so adding a constant to a whole vector
changes nothing. Everything is vectorised: one gather per side, no Python loop over pairs.
"""

from __future__ import annotations

import torch


def all_pairs(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """All (i, j) with i < j, shape (2, n(n−1)/2)."""
    return torch.triu_indices(n, n, offset=1, device=device)


def sample_pairs(n: int, max_pairs: int | None, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """All pairs when there are at most ``max_pairs``; otherwise ``max_pairs`` random pairs i ≠ j (uniform).

    Keeps the cost O(rows · max_pairs) for many classes (Tiny-ImageNet's 200 give 19 900 pairs per row).
    """
    if max_pairs is None or n * (n - 1) // 2 <= max_pairs:
        return all_pairs(n, device)
    i = torch.randint(0, n, (max_pairs,), generator=generator)
    j = (i + torch.randint(1, n, (max_pairs,), generator=generator)) % n  # j ≠ i
    return torch.stack([torch.minimum(i, j), torch.maximum(i, j)]).to(device)


def soft_ranks(v: torch.Tensor, gamma: float, pairs: torch.Tensor) -> torch.Tensor:
    """tanh(γ·(v_i − v_j)) for each pair, row-wise: (rows, n) → (rows, |P|)."""
    return torch.tanh(gamma * (v[:, pairs[0]] - v[:, pairs[1]]))


def rank_agreement(teacher: torch.Tensor, student: torch.Tensor, gamma: float = 1.0,
                   max_pairs: int | None = 4096, generator: torch.Generator | None = None) -> torch.Tensor:
    """R_γ(u, v) averaged over rows; ``teacher``/``student`` are (rows, n); the teacher side is a constant."""
    if teacher.shape != student.shape or teacher.dim() != 2:
        raise ValueError(f"rank_agreement needs two (rows, n) tensors of one shape, got {tuple(teacher.shape)} "
                         f"and {tuple(student.shape)}")
    n = teacher.shape[1]
    if n < 2:
        return student.sum() * 0.0
    pairs = sample_pairs(n, max_pairs, teacher.device, generator)
    target = soft_ranks(teacher.detach().float(), gamma, pairs)
    return (target - soft_ranks(student.float(), gamma, pairs)).pow(2).mean()


def categorical_ranking_loss(logits_student: torch.Tensor, logits_teacher: torch.Tensor, gamma: float = 1.0,
                             max_pairs: int | None = 4096) -> torch.Tensor:
    """Level 1, between classes: R_γ over the C classes of each sample (row-wise), mean over the batch."""
    return rank_agreement(logits_teacher, logits_student, gamma, max_pairs)


def sample_ranking_loss(logits_student: torch.Tensor, logits_teacher: torch.Tensor, gamma: float = 1.0,
                        max_pairs: int | None = 4096) -> torch.Tensor:
    """Level 2, between samples: R_γ over the B samples of each class (column-wise), mean over classes."""
    return rank_agreement(logits_teacher.t(), logits_student.t(), gamma, max_pairs)


def discrepancy_ranking_loss(student_adv: torch.Tensor, student_clean: torch.Tensor, teacher_adv: torch.Tensor,
                             teacher_clean: torch.Tensor, gamma: float = 1.0,
                             max_pairs: int | None = 4096) -> torch.Tensor:
    """Level 3, clean → adversarial: R_γ row-wise on Δ = z(x') − z(x), teacher Δ vs student Δ."""
    return rank_agreement(teacher_adv - teacher_clean, student_adv - student_clean, gamma, max_pairs)

"""CW∞: PGD on the Carlini-Wagner margin loss (Carlini & Wagner 2017, ℓ∞ variant used in robustness benchmarks)."""

from __future__ import annotations

from .base import ATTACKS, DEFAULT_EPS, DEFAULT_STEP_SIZE
from .pgd import PGD


@ATTACKS.register("cw")
class CWInf(PGD):
    """PGD ascending Σ_i (max_{j≠y} z'_ij − z'_iy) from a uniform random start."""

    name = "cw"

    def __init__(self, eps: float = DEFAULT_EPS, alpha: float = DEFAULT_STEP_SIZE, steps: int = 20) -> None:
        super().__init__(eps=eps, alpha=alpha, steps=steps, loss="cw", start="uniform")

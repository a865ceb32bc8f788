"""CW∞: PGD on the Carlini-Wagner margin loss (Carlini & Wagner 2017, ℓ∞ variant used in robustness benchmarks)."""

from __future__ import annotations

from .base import ATTACKS
from .pgd import PGD


@ATTACKS.register("cw")
class CWInf(PGD):
    """PGD ascending Σ_i (max_{j≠y} z'_ij − z'_iy) from a uniform random start."""

    name = "cw"

    def __init__(self, eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 20) -> None:
        super().__init__(eps=eps, alpha=alpha, steps=steps, loss="cw", start="uniform")

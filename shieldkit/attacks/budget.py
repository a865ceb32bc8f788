"""The ℓ∞ PGD budget a training command attacks with, declared once: :class:`AttackSettings`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..settings import check_settings, setting
from .base import DEFAULT_EPS, DEFAULT_STEP_SIZE
from .pgd import PGD


@dataclass(frozen=True)
class AttackSettings:
    """ε, steps and step size of the ℓ∞ PGD attack a training command uses (on [0, 1] inputs):
    x_{k+1} = Π_{B∞(x, ε)}(x_k + step_size·sign ∇_x L), ``steps`` times."""

    eps: float = setting(DEFAULT_EPS, "ℓ∞ radius on [0, 1] inputs (default 8/255)", minimum=0)
    steps: int = setting(10, "PGD steps of the training attack", minimum=0)
    step_size: float = setting(DEFAULT_STEP_SIZE, "PGD step size on [0, 1] inputs (default 2/255)", minimum=0)

    def __post_init__(self) -> None:
        check_settings(self)
        if self.eps > 1.0:
            raise InputError(f"--eps must be in [0, 1] (inputs are in [0, 1]), got {self.eps}")

    def pgd(self, loss: str = "ce") -> PGD:
        """A PGD attack with this budget; bad settings as one line."""
        try:
            return PGD(eps=self.eps, alpha=self.step_size, steps=self.steps, loss=loss)
        except ValueError as e:
            raise InputError(str(e)) from None

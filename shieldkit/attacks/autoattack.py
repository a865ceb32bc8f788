"""AutoAttack (Croce & Hein 2020), standard version, from torchattacks rather than re-implemented.

Standard = APGD-CE (100 iterations), APGD-T (100 iterations, 9 target classes), FAB-T (100 iterations,
9 target classes), Square (5000 queries), each run only on the images the previous ones did not break; the
robust accuracy is the accuracy on the final output.

torchattacks' own ``AutoAttack(version="standard")`` runs 10 iterations per attack and targets every other
class (99 on CIFAR-100), which is not the standard configuration; ``version="standard"`` here assembles the
four attacks with the standard settings (``"plus"`` and ``"rand"`` are torchattacks' versions).
"""

from __future__ import annotations

from .base import ATTACKS, DEFAULT_EPS, Attack
from .third_party import torchattacks

VERSIONS = ("standard", "plus", "rand")


@ATTACKS.register("autoattack")
class AutoAttack(Attack):
    name = "autoattack"

    def __init__(self, eps: float = DEFAULT_EPS, num_classes: int = 10, version: str = "standard", seed: int = 0) -> None:
        super().__init__(eps)
        if version not in VERSIONS:
            raise ValueError(f"AutoAttack version must be one of {VERSIONS}, got {version!r}")
        self.num_classes, self.version, self.seed = int(num_classes), version, int(seed)

    def perturb(self, model, images, labels, **kw):
        ta = torchattacks()
        if self.version == "standard":
            attack = ta.MultiAttack(standard_attacks(ta, model, self.eps, self.num_classes, self.seed))
        else:
            attack = ta.AutoAttack(model, norm="Linf", eps=self.eps, version=self.version, n_classes=self.num_classes,
                                   seed=self.seed)
        attack.set_device(images.device)
        return attack(images.contiguous(), labels)  # torchattacks FAB needs the default (NCHW-contiguous) layout

    def settings(self):
        return {**super().settings(), "version": self.version, "num_classes": self.num_classes, "seed": self.seed}


STANDARD_ITERATIONS = 100
STANDARD_TARGETS = 9


def standard_attacks(ta, model, eps: float, num_classes: int, seed: int) -> list:
    """The four attacks of standard AutoAttack (Croce & Hein 2020) with its settings. torchattacks' targeted
    attacks take ``n_classes − 1`` target classes, so ``n_classes`` is the number of targets + 1."""
    n = min(int(num_classes), STANDARD_TARGETS + 1)
    return [ta.APGD(model, norm="Linf", eps=eps, steps=STANDARD_ITERATIONS, n_restarts=1, seed=seed, loss="ce"),
            ta.APGDT(model, norm="Linf", eps=eps, steps=STANDARD_ITERATIONS, n_restarts=1, seed=seed, n_classes=n),
            ta.FAB(model, norm="Linf", eps=eps, steps=STANDARD_ITERATIONS, n_restarts=1, seed=seed, multi_targeted=True,
                   n_classes=n),
            ta.Square(model, norm="Linf", eps=eps, n_queries=5000, n_restarts=1, seed=seed)]

"""AutoAttack (Croce & Hein 2020), standard version, from torchattacks rather than re-implemented.

Standard = APGD-CE, APGD-T (9 target classes), FAB-T, Square (5000 queries), each run only on the
images the previous ones did not break; the robust accuracy is the accuracy on the final output.
"""

from __future__ import annotations

from .base import ATTACKS, Attack
from .third_party import torchattacks

VERSIONS = ("standard", "plus", "rand")


@ATTACKS.register("autoattack")
class AutoAttack(Attack):
    name = "autoattack"

    def __init__(self, eps: float = 8 / 255, num_classes: int = 10, version: str = "standard", seed: int = 0) -> None:
        super().__init__(eps)
        if version not in VERSIONS:
            raise ValueError(f"AutoAttack version must be one of {VERSIONS}, got {version!r}")
        self.num_classes, self.version, self.seed = int(num_classes), version, int(seed)

    def perturb(self, model, images, labels, **kw):
        ta = torchattacks()
        attack = ta.AutoAttack(model, norm="Linf", eps=self.eps, version=self.version, n_classes=self.num_classes,
                               seed=self.seed)
        attack.set_device(images.device)
        return attack(images.contiguous(), labels)  # torchattacks FAB needs the default (NCHW-contiguous) layout

    def settings(self):
        return {**super().settings(), "version": self.version, "num_classes": self.num_classes, "seed": self.seed}

"""Plain supervised training: cross-entropy, optionally with label smoothing."""

from __future__ import annotations

import torch.nn.functional as F

from .base import Method, total


class Plain(Method):
    name = "plain"

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = float(label_smoothing)

    def step(self, model, x, y, *extras):
        logits = model(x)
        return total({"loss_ce": F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)}, logits)

    def settings(self):
        return {"method": self.name, "label_smoothing": self.label_smoothing}

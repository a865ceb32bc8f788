"""Training methods: each is a training step that returns a dict of named loss terms.

``step(model, x, y, *extras)`` returns ``{"loss": total, "logits": logits, <term>: value, ...}``.
The engine back-propagates ``"loss"`` and logs the other terms; a new protection or hardening
method is one new class plus a registry entry.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Method:
    """Base training method: plain cross-entropy (optionally label-smoothed)."""

    name = "base"

    def step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *extras: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """Hyper-parameters that define this method (written next to every run's outputs)."""
        return {"method": self.name}

    def to(self, device: torch.device, channels_last: bool = False) -> "Method":
        """Move any frozen reference network this method holds."""
        return self


def total(terms: dict[str, torch.Tensor], logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Sum the weighted terms into ``"loss"`` and attach the logits."""
    out = dict(terms)
    out["loss"] = sum(terms.values())
    out["logits"] = logits
    return out


def frozen(model: nn.Module) -> nn.Module:
    """Put a reference network in eval mode with gradients off."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def move_frozen(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return frozen(model)


class TeacherMethod(Method):
    """A method that distils a frozen ``teacher`` (moved with the student, never trained)."""

    def __init__(self, teacher: nn.Module) -> None:
        self.teacher = frozen(teacher)

    def to(self, device: torch.device, channels_last: bool = False) -> "TeacherMethod":
        self.teacher = move_frozen(self.teacher, device, channels_last)
        return self

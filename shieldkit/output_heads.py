"""Output heads: what an exported model answers with, on top of its logits z (docs/output-heads.md).

A head keeps the model's decision t = argmax z on every input (so accuracy is unchanged, exactly) and
removes from the answer what a distilling student could learn beyond that decision:

- ``logits``: z itself (no head);
- ``confidence``: the decision and its confidence p_t = softmax(z)_t, nothing else. The answer is

      ẑ_k = [k = t] · (z_t − logsumexp_{j≠t} z_j + log(C − 1)),

  so softmax(ẑ)_t = p_t and every other class gets (1 − p_t)/(C − 1): the ranking of the negatives
  (the "dark knowledge") is gone at every temperature, not only at the one a loss was trained at.
  It is the exact optimum that the RML ``uniform`` recipe only approaches by fine-tuning, where the
  residual differences between negatives come back once an attacker sharpens the outputs;
- ``decision``: the decision at a fixed confidence c: ẑ_k = [k = t] · log(c (C − 1)/(1 − c)).

Heads are a function of z alone; the trained weights are untouched. The exporter puts the head into
the ONNX graph (the answer a deployed model gives); the artefact's safetensors keep the plain network,
so white-box robustness attacks still see real gradients (a head never changes a decision, so an
adversarial example of the network is one of the answered model too).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .errors import InputError

OUTPUT_HEADS = ("logits", "confidence", "decision")
PROTECT_HEAD = "decision"  # what ``protect`` records for ``export`` unless told otherwise (docs/output-heads.md)
DEFAULT_DECISION_CONFIDENCE = 0.9


def check_head(head: str, decision_confidence: float = DEFAULT_DECISION_CONFIDENCE) -> str:
    """``head`` if it is one of :data:`OUTPUT_HEADS` and the decision confidence lies in (0, 1), else InputError."""
    if head not in OUTPUT_HEADS:
        raise InputError(f"unknown output head {head!r}; valid: {', '.join(OUTPUT_HEADS)}")
    if not (0.0 < float(decision_confidence) < 1.0):
        raise InputError(f"the decision head's confidence must lie strictly between 0 and 1, got {decision_confidence}")
    return head


def _decision_mask(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(t, one-hot of t) for t = argmax z (the first of tied maxima), shapes (B, 1) and (B, C)."""
    t = logits.argmax(dim=1, keepdim=True)
    return t, torch.zeros_like(logits).scatter(1, t, 1.0)


def confidence_logits(logits: torch.Tensor) -> torch.Tensor:
    """ẑ = onehot(t) · (z_t − logsumexp_{j≠t} z_j + log(C − 1)), t = argmax z.

    softmax(ẑ) = [p_t at t, (1 − p_t)/(C − 1) elsewhere] with p_t = softmax(z)_t, computed in log space
    (no 1 − p_t cancellation when p_t is close to 1)."""
    c = logits.shape[1]
    if c < 2:
        return logits
    t, onehot = _decision_mask(logits)
    z_t = logits.gather(1, t)
    others = logits.masked_fill(onehot.bool(), float("-inf"))
    margin = z_t - torch.logsumexp(others, dim=1, keepdim=True) + math.log(c - 1)
    return onehot * margin


def decision_logits(logits: torch.Tensor, confidence: float = DEFAULT_DECISION_CONFIDENCE) -> torch.Tensor:
    """ẑ = onehot(argmax z) · log(c (C − 1)/(1 − c)): softmax(ẑ) is c at the decision, equal elsewhere."""
    c = logits.shape[1]
    _, onehot = _decision_mask(logits)
    return onehot * math.log(confidence * (c - 1) / (1.0 - confidence))


def head_logits(logits: torch.Tensor, head: str, decision_confidence: float = DEFAULT_DECISION_CONFIDENCE) -> torch.Tensor:
    """The answer of ``head`` (:data:`OUTPUT_HEADS`) for logits z."""
    check_head(head, decision_confidence)
    if head == "confidence":
        return confidence_logits(logits)
    if head == "decision":
        return decision_logits(logits, decision_confidence)
    return logits


class OutputHead(nn.Module):
    """``forward(x) = head_logits(model(x), head)``; keeps the wrapped model's ``num_classes``/``arch``."""

    def __init__(self, model: nn.Module, head: str, decision_confidence: float = DEFAULT_DECISION_CONFIDENCE) -> None:
        super().__init__()
        self.model = model
        self.head = check_head(head, decision_confidence)
        self.decision_confidence = float(decision_confidence)
        self.num_classes = getattr(model, "num_classes", None)
        self.arch = getattr(model, "arch", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return head_logits(self.model(x), self.head, self.decision_confidence)


def head_record(head: str, decision_confidence: float = DEFAULT_DECISION_CONFIDENCE) -> dict:
    """The head's settings as a manifest records them: ``head``, and ``decision_confidence`` for ``decision``."""
    return {"head": head, **({"decision_confidence": float(decision_confidence)} if head == "decision" else {})}

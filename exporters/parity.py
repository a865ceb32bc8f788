"""Parity between the torch model and the ONNX Runtime graph made from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class ParityThresholds:
    """An fp32 export passes when ``max |Δlogit| <= max_abs_diff`` and top-1 agreement ``>= min_agreement``."""

    max_abs_diff: float = 1e-3
    min_agreement: float = 0.999


def torch_logits(module: nn.Module, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    module = module.eval().cpu()
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            out.append(module(torch.from_numpy(np.ascontiguousarray(images[i:i + batch_size]))).float().numpy())
    return np.concatenate(out)


def compare_logits(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """max/mean |Δlogit|, top-1 agreement, and (with ``labels``) both accuracies and the drop, in %."""
    diff = np.abs(reference.astype(np.float64) - candidate.astype(np.float64))
    figures = {
        "n": int(len(reference)),
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
        "top1_agreement": float((reference.argmax(1) == candidate.argmax(1)).mean()) if len(reference) else 1.0,
        "finite": bool(np.isfinite(candidate).all()),
    }
    if labels is not None and len(labels):
        ref_acc = float((reference.argmax(1) == labels).mean() * 100)
        cand_acc = float((candidate.argmax(1) == labels).mean() * 100)
        figures.update(reference_accuracy=ref_acc, accuracy=cand_acc, accuracy_drop=ref_acc - cand_acc)
    return figures


def parity_failures(figures: dict, thresholds: ParityThresholds) -> list[str]:
    """Human-readable reasons an fp32 parity check fails (empty when it passes)."""
    reasons = []
    if not figures["finite"]:
        reasons.append("ONNX Runtime produced NaN/Inf logits")
    if figures["max_abs_diff"] > thresholds.max_abs_diff:
        reasons.append(f"max |Δlogit| {figures['max_abs_diff']:.3g} > {thresholds.max_abs_diff:g}")
    if figures["top1_agreement"] < thresholds.min_agreement:
        reasons.append(f"top-1 agreement {figures['top1_agreement'] * 100:.2f}% < {thresholds.min_agreement * 100:.2f}%")
    return reasons

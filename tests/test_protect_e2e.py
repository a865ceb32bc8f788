"""End to end on digits: RML keeps the teacher's accuracy and removes what KD students learn from it."""

import pytest

from shieldkit.engine import predict_logits
from shieldkit.losses import non_target_logits
from shieldkit.verify import KDProbeConfig, kd_probe, train_baselines


@pytest.fixture(scope="module")
def models(digits_models):
    return digits_models


def test_protected_keeps_accuracy(models):
    original, protected = models
    f = protected.figures
    assert original.figures["test_accuracy"] > 90
    assert f["original_test_accuracy"] == pytest.approx(original.figures["test_accuracy"])
    assert f["accuracy_drop"] <= 2.0, f


def test_protected_negatives_are_reversed(models, digits):
    original, protected = models
    z_o = predict_logits(original.model, digits.test)
    z_p = predict_logits(protected.model, digits.test)
    y = z_o.argmax(1)
    neg_o, neg_p = non_target_logits(z_o, y), non_target_logits(z_p, y)
    # Spearman rank correlation of the negatives, averaged over test images: the original's order is inverted
    r_o = neg_o.argsort(1).argsort(1).float()
    r_p = neg_p.argsort(1).argsort(1).float()
    r_o, r_p = r_o - r_o.mean(1, keepdim=True), r_p - r_p.mean(1, keepdim=True)
    corr = ((r_o * r_p).sum(1) / (r_o.norm(dim=1) * r_p.norm(dim=1))).mean().item()
    assert corr < 0.0, corr  # the original is +1 by definition; a plain fine-tune stays near +1


def test_kd_gain_of_protected_is_below_original(models, digits):
    original, protected = models
    cfg = KDProbeConfig(epochs=30, batch_size=64, attacker_fraction=0.2, seeds=(0, 1), taus=(1.0, 4.0, 10.0))
    base = train_baselines(digits, cfg)
    orig = kd_probe(original.model, digits, cfg, baselines=base, progress=False)
    prot = kd_probe(protected.model, digits, cfg, baselines=base, progress=False)
    assert orig["kd_gain"] > 0, orig["kd_gain_per_student"]
    assert prot["kd_gain"] < orig["kd_gain"]
    # at τ ≥ 4 the reversed negatives mislead the student: every such KD student does worse from the protected model
    for name in ("kd_tau4", "kd_tau10", "soft_tau4"):
        assert prot["students"][name]["mean"] < orig["students"][name]["mean"], name

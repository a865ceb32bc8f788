import math

import pytest
import torch
import torch.nn.functional as F

from shieldkit.losses import (binary_loss, binary_probs, hinton_kd_loss, kd_loss, nasty_loss, non_target_logits,
                              negatives_loss, negatives_target, rml_loss)


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 10, generator=g) * 3
    y = torch.randint(0, 10, (6,), generator=g)
    return z, y


def test_binary_distribution_sums_to_one(logits):
    z, y = logits
    b = binary_probs(z, y, tau=4.0)
    assert b.shape == (6, 2)
    assert torch.allclose(b.sum(1), torch.ones(6))
    assert torch.allclose(b[:, 0], F.softmax(z / 4, 1)[torch.arange(6), y])


def test_non_target_logits_drop_exactly_the_target(logits):
    z, y = logits
    neg = non_target_logits(z, y)
    assert neg.shape == (6, 9)
    for i in range(6):
        expected = torch.cat([z[i, : y[i]], z[i, y[i] + 1:]])
        assert torch.equal(neg[i], expected)


def test_mirror_inverts_ranking_and_keeps_values(logits):
    z, y = logits
    neg = non_target_logits(z, y)
    q = F.softmax(neg / 4, 1)
    r = negatives_target(neg, 4.0, "mirror")
    # same multiset of values (hence same entropy)
    assert torch.allclose(q.sort(1).values, r.sort(1).values)
    # ranking exactly inverted: the k-th smallest of q is the k-th largest of r
    assert torch.equal(q.argsort(1), r.argsort(1, descending=True))
    assert torch.allclose(r.sum(1), torch.ones(6))


def test_negate_inverts_ranking(logits):
    z, y = logits
    neg = non_target_logits(z, y)
    r = negatives_target(neg, 4.0, "negate")
    assert torch.equal(neg.argsort(1), r.argsort(1, descending=True))
    with pytest.raises(ValueError):
        negatives_target(neg, 4.0, "shuffle")


@pytest.mark.parametrize("mode", ["mirror", "negate"])
def test_reverse_term_zero_when_protected_negatives_equal_reversed_target(logits, mode):
    z_o, y = logits
    tau = 4.0
    rev = negatives_target(non_target_logits(z_o, y), tau, mode)
    z_p = z_o.clone()
    mask = torch.ones_like(z_p, dtype=torch.bool).scatter_(1, y.view(-1, 1), False)
    z_p[mask] = (tau * rev.log()).flatten()  # softmax(z_p_neg / τ) == rev
    assert negatives_loss(z_p, z_o, y, tau, mode).abs().item() < 1e-5
    assert negatives_loss(z_o, z_o, y, tau, mode).item() > 0.01  # the un-reversed original is penalised


def test_binary_term_zero_iff_target_confidence_matches(logits):
    z, y = logits
    assert binary_loss(z, z, y, 4.0).abs().item() < 1e-6
    z2 = z.clone()
    z2[torch.arange(6), y] += 2.0
    assert binary_loss(z2, z, y, 4.0).item() > 0


def test_kl_terms_use_batchmean(logits):
    z_o, y = logits
    z_p = z_o + torch.randn_like(z_o)
    tau = 4.0
    b_o, b_p = binary_probs(z_o, y, tau), binary_probs(z_p, y, tau)
    per_sample = (b_o * (b_o.log() - b_p.log())).sum(1)
    assert torch.allclose(binary_loss(z_p, z_o, y, tau), per_sample.mean() * tau**2, atol=1e-6)
    # duplicating the batch leaves a batchmean loss unchanged (a 'mean' over elements would not depend on C either,
    # but would be C-1 times smaller): compare against the element-wise mean to pin the reduction
    rev = negatives_target(non_target_logits(z_o, y), tau)
    log_q = F.log_softmax(non_target_logits(z_p, y) / tau, 1)
    per_sample_rev = (rev * (rev.log() - log_q)).sum(1)
    assert torch.allclose(negatives_loss(z_p, z_o, y, tau), per_sample_rev.mean() * tau**2, atol=1e-5)
    assert torch.allclose(negatives_loss(torch.cat([z_p, z_p]), torch.cat([z_o, z_o]), torch.cat([y, y]), tau),
                          negatives_loss(z_p, z_o, y, tau), atol=1e-6)


def test_rml_loss_terms_weighted_and_no_gradient_into_original(logits):
    z_o, y = logits
    z_o = z_o.clone().requires_grad_(True)
    z_p = (z_o.detach() + 0.5).requires_grad_(True)
    t1 = rml_loss(z_p, z_o, y, alpha=1.0, beta=1.0, tau=4.0)
    t2 = rml_loss(z_p, z_o, y, alpha=2.0, beta=3.0, tau=4.0)
    assert set(t1) == {"loss_ce", "loss_bin", "loss_neg"}
    assert torch.allclose(t2["loss_bin"], 2 * t1["loss_bin"]) and torch.allclose(t2["loss_neg"], 3 * t1["loss_neg"])
    sum(t1.values()).backward()
    assert z_o.grad is None and torch.isfinite(z_p.grad).all()


def test_rml_loss_golden_value():
    z_o = torch.tensor([[4.0, 1.0, 0.0, -1.0]])
    z_p = torch.tensor([[3.0, -1.0, 0.5, 1.0]])
    y = torch.tensor([0])
    t = rml_loss(z_p, z_o, y, alpha=1.0, beta=1.0, tau=2.0, negatives="mirror")
    # hand computation: CE at tau 1; binary and reverse KLs at tau 2, times tau^2
    ce = -F.log_softmax(z_p, 1)[0, 0]
    p_o = F.softmax(z_o / 2, 1)[0, 0]
    p_p = F.softmax(z_p / 2, 1)[0, 0]
    kl_bin = p_o * math.log(p_o / p_p) + (1 - p_o) * math.log((1 - p_o) / (1 - p_p))
    q_o = F.softmax(torch.tensor([1.0, 0.0, -1.0]) / 2, 0)
    rev = q_o.flip(0)  # already sorted descending: mirror = reverse the order
    q_p = F.softmax(torch.tensor([-1.0, 0.5, 1.0]) / 2, 0)
    kl_rev = (rev * (rev / q_p).log()).sum()
    assert torch.allclose(t["loss_ce"], ce, atol=1e-6)
    assert torch.allclose(t["loss_bin"], 4 * kl_bin, atol=1e-6)
    assert torch.allclose(t["loss_neg"], 4 * kl_rev, atol=1e-6)


def test_kd_loss_zero_for_identical_and_positive_otherwise(logits):
    z, y = logits
    assert kd_loss(z, z, 4.0).abs().item() < 1e-6
    assert kd_loss(z + torch.randn_like(z), z, 4.0).item() > 0
    terms = hinton_kd_loss(z, z, y, alpha=1.0, tau=4.0)
    assert set(terms) == {"loss_kd"}
    terms = hinton_kd_loss(z, z, y, alpha=0.9, tau=4.0)
    assert torch.allclose(terms["loss_ce"], 0.1 * F.cross_entropy(z, y))


def test_nasty_adversarial_term_is_negative_and_pushes_away(logits):
    z, y = logits
    z_adv = z + torch.randn_like(z)
    t = nasty_loss(z, z_adv, y, tau=4.0, omega=0.04)
    assert t["loss_adv"].item() < 0
    assert nasty_loss(z, z, y, 4.0, 0.04)["loss_adv"].abs().item() < 1e-6


# ---- RML variants: negatives' target, confidence target, flatness (losses/rml.py) ----

from shieldkit.losses.rml import (confidence_target, flatness_loss, negatives_target,  # noqa: E402
                                  parse_confidence)


def test_uniform_negatives_target_is_uniform_and_ignores_the_original(logits):
    z, y = logits
    neg = non_target_logits(z, y)
    u = negatives_target(neg, 4.0, "uniform")
    assert torch.allclose(u, torch.full_like(u, 1 / 9))
    assert torch.equal(u, negatives_target(neg * 7 - 3, 4.0, "uniform"))


def test_uniform_negatives_term_has_zero_gradient_across_negatives_at_the_optimum(logits):
    """At flat negatives (any level, any target logit) the uniform term is 0 and pushes no negative logit."""
    z_o, y = logits
    z_p = torch.full_like(z_o, -1.5)
    z_p[torch.arange(6), y] = 3.0
    z_p.requires_grad_(True)
    loss = negatives_loss(z_p, z_o, y, 4.0, "uniform")
    assert loss.abs().item() < 1e-6
    (g,) = torch.autograd.grad(loss, z_p)
    assert g.abs().max().item() < 1e-6
    # away from the optimum it pulls the negatives together: the largest negative gets a positive gradient
    z_q = z_p.detach().clone()
    z_q[0, (y[0] + 1) % 10] += 2.0
    z_q.requires_grad_(True)
    (g,) = torch.autograd.grad(negatives_loss(z_q, z_o, y, 4.0, "uniform"), z_q)
    assert g[0, (y[0] + 1) % 10].item() > 0


def test_flatness_is_zero_iff_negatives_equal_and_temperature_free(logits):
    z, y = logits
    flat = torch.zeros_like(z)
    flat[torch.arange(6), y] = 5.0
    assert flatness_loss(flat, y).item() == 0.0
    assert flatness_loss(z, y).item() > 0
    # golden value: population variance of the 3 negatives [1, 0, -1] = 2/3
    assert flatness_loss(torch.tensor([[4.0, 1.0, 0.0, -1.0]]), torch.tensor([0])).item() == pytest.approx(2 / 3)


def test_equalized_confidence_is_image_independent(logits):
    z, y = logits
    c = confidence_target(z, y, 4.0, "equalized")
    assert torch.allclose(c, c[0].expand_as(c))
    p_t = F.softmax(z / 4, 1)[torch.arange(6), y]
    assert torch.allclose(c[0], p_t.mean())
    assert torch.allclose(confidence_target(z, y, 4.0, "original"), p_t)
    assert torch.equal(confidence_target(z, y, 4.0, 0.9), torch.full((6,), 0.9))
    assert torch.equal(confidence_target(z, y, 4.0, "fixed:0.9"), torch.full((6,), 0.9))


@pytest.mark.parametrize("bad", ["fixed:1.5", "fixed:0", "sometimes", "fixed:nan", 1.0])
def test_bad_confidence_is_refused(bad):
    with pytest.raises(ValueError):
        parse_confidence(bad)


def test_fixed_confidence_binary_term_golden_value():
    """L_bin = τ²·KL([c, 1−c] || [p_t, 1−p_t]) with c fixed, computed by hand."""
    z_p = torch.tensor([[2.0, 0.0, 0.0]])
    y = torch.tensor([0])
    p = math.exp(2.0) / (math.exp(2.0) + 2)  # τ = 1
    expected = 0.9 * math.log(0.9 / p) + 0.1 * math.log(0.1 / (1 - p))
    assert binary_loss(z_p, torch.zeros_like(z_p), y, 1.0, 0.9).item() == pytest.approx(expected, rel=1e-5)


def test_flat_recipe_optimum_is_a_fixed_margin_over_flat_negatives():
    """uniform negatives + fixed confidence C at τ = 1 (no CE): the loss is 0 exactly when the target logit
    leads every (equal) negative by log(C·(C_classes − 1)/(1 − C))."""
    c, n = 0.9, 10
    margin = math.log(c * (n - 1) / (1 - c))
    z = torch.zeros(3, n)
    y = torch.tensor([0, 4, 9])
    z[torch.arange(3), y] = margin
    t = rml_loss(z, torch.randn(3, n), y, alpha=1.0, beta=1.0, tau=1.0, negatives="uniform", confidence=c,
                 ce_weight=0.0, flatness=0.1)
    assert set(t) == {"loss_bin", "loss_neg", "loss_flat"}
    assert sum(t.values()).abs().item() < 1e-5
    z2 = z.clone()
    z2[torch.arange(3), y] += 1.0  # a larger margin is penalised
    t2 = rml_loss(z2, torch.randn(3, n), y, 1.0, 1.0, 1.0, "uniform", confidence=c, ce_weight=0.0)
    assert sum(t2.values()).item() > 1e-3


def test_template_loss_is_zero_exactly_on_the_shifted_template_and_pulls_towards_it():
    from shieldkit.losses import TEMPLATE_MARGIN, template_loss

    y = torch.tensor([2, 0, 4])
    template = TEMPLATE_MARGIN * F.one_hot(y, 5).float()
    shifted = template + torch.tensor([[3.0], [-1.0], [0.5]])  # any per-image constant: the same softmax
    assert template_loss(shifted, y).item() < 1e-10
    # by hand: one image, 2 classes, z = (a, b), t = 0: centred z = ((a−b)/2, (b−a)/2), template (M/2, −M/2)
    a, b, m = 3.0, 1.0, 3.0
    z = torch.tensor([[a, b]])
    expected = ((a - b) / 2 - m / 2) ** 2
    assert template_loss(z, torch.tensor([0]), m).item() == pytest.approx(expected, rel=1e-6)
    # one gradient step from random logits moves them towards the template (the loss falls)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 10, generator=g, requires_grad=True)
    t = torch.randint(0, 10, (8,), generator=g)
    before = template_loss(z, t)
    (grad,) = torch.autograd.grad(before, z)
    assert template_loss(z - 0.5 * grad, t).item() < before.item()
    # at the template, softmax gives the decision 0.9 among 10 classes, at τ = 1
    p = F.softmax(TEMPLATE_MARGIN * F.one_hot(t, 10).float(), 1)
    assert torch.allclose(p.max(1).values, torch.full((8,), 0.9), atol=1e-6)


def test_rml_loss_adds_the_template_term_only_when_weighted():
    from shieldkit.losses import rml_loss, template_loss

    g = torch.Generator().manual_seed(1)
    z_p, z_o = torch.randn(4, 10, generator=g), torch.randn(4, 10, generator=g)
    y = torch.randint(0, 10, (4,), generator=g)
    assert "loss_template" not in rml_loss(z_p, z_o, y, 0.0, 0.0, 4.0, "uniform")
    terms = rml_loss(z_p, z_o, y, 0.0, 0.0, 4.0, "uniform", template=3.0, template_margin=2.0)
    assert terms["loss_template"].item() == pytest.approx(3.0 * template_loss(z_p, y, 2.0).item(), rel=1e-6)

"""ARD ranking losses and the adversarial-distillation losses: invariants the equations promise."""

import pytest
import torch

from shieldkit.losses import (ard_goldblum_loss, ard_ranking_loss, categorical_ranking_loss, discrepancy_ranking_loss,
                              rank_agreement, rslad_loss, sample_pairs, sample_ranking_loss, trades_loss)

torch.manual_seed(0)


def test_zero_when_orderings_agree_at_large_gamma():
    u = torch.randn(16, 10) * 3
    v = 2.0 * u + 0.5 * u.pow(3)  # strictly increasing transform: same order, different values
    assert rank_agreement(u, v, gamma=1e4).item() < 1e-6
    assert rank_agreement(u, -u, gamma=1e4).item() == pytest.approx(4.0, abs=1e-3)  # every pair flipped
    assert rank_agreement(u, v, gamma=1.0).item() > 1e-3  # the relaxation still sees value differences


def test_invariant_to_a_constant_added_to_a_row():
    t, s = torch.randn(8, 10), torch.randn(8, 10)
    shift = torch.randn(8, 1) * 10
    assert categorical_ranking_loss(s + shift, t, 2.0).item() == pytest.approx(
        categorical_ranking_loss(s, t, 2.0).item(), rel=1e-5)
    assert categorical_ranking_loss(s, t - shift, 2.0).item() == pytest.approx(
        categorical_ranking_loss(s, t, 2.0).item(), rel=1e-5)


def test_levels_read_rows_columns_and_differences():
    t, s = torch.randn(12, 5), torch.randn(12, 5)
    assert sample_ranking_loss(s, t).item() == pytest.approx(categorical_ranking_loss(s.t(), t.t()).item())
    t_clean, s_clean = torch.randn(12, 5), torch.randn(12, 5)
    # a student whose clean->adversarial movement matches the teacher's scores zero on the disc level
    assert discrepancy_ranking_loss(s_clean + (t - t_clean), s_clean, t, t_clean).item() < 1e-10
    assert discrepancy_ranking_loss(s, s_clean, t, t_clean).item() > 0


def test_gradients_finite_and_only_on_student_side():
    t = torch.zeros(4, 6, requires_grad=True)  # all ties on the teacher side
    s = torch.randn(4, 6, requires_grad=True)
    loss = sum(ard_ranking_loss(s, s * 0.5, t, t * 0.0, torch.zeros(4, dtype=torch.long), gamma=5.0).values())
    loss.backward()
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0
    assert t.grad is None or t.grad.abs().sum() == 0


def test_pair_subsampling_for_many_classes():
    pairs = sample_pairs(200, 1000, generator=torch.Generator().manual_seed(0))
    assert pairs.shape == (2, 1000) and (pairs[0] < pairs[1]).all() and pairs.max() < 200
    assert sample_pairs(10, 1000).shape == (2, 45)  # all pairs when few
    t, s = torch.randn(4, 200), torch.randn(4, 200)
    full, sub = rank_agreement(t, s, max_pairs=None).item(), rank_agreement(t, s, max_pairs=4000).item()
    assert sub == pytest.approx(full, rel=0.1)  # an unbiased estimate of the full mean


def test_ard_loss_terms_follow_levels_and_lambdas():
    t_adv, t_clean, s_adv, s_clean = (torch.randn(8, 10) for _ in range(4))
    y = torch.randint(0, 10, (8,))
    full = ard_ranking_loss(s_adv, s_clean, t_adv, t_clean, y)
    assert set(full) == {"loss_kl_adv", "loss_kl_clean", "loss_rank_cat", "loss_rank_sample", "loss_rank_disc"}
    no_sample = ard_ranking_loss(s_adv, s_clean, t_adv, t_clean, y, levels=("cat", "disc"), lambdas=(2, 1, 3))
    assert "loss_rank_sample" not in no_sample
    assert no_sample["loss_rank_cat"].item() == pytest.approx(2 * full["loss_rank_cat"].item())
    assert no_sample["loss_rank_disc"].item() == pytest.approx(3 * full["loss_rank_disc"].item())
    with pytest.raises(ValueError, match="unknown ARD level"):
        ard_ranking_loss(s_adv, s_clean, t_adv, t_clean, y, levels=("cat", "pixel"))


def test_distillation_losses_vanish_when_student_matches_teacher():
    gen = torch.Generator().manual_seed(0)  # not the global RNG: its state depends on which tests ran before
    z, y = torch.randn(8, 10, generator=gen), torch.randint(0, 10, (8,), generator=gen)
    assert sum(rslad_loss(z, z, z).values()).item() == pytest.approx(0.0, abs=1e-6)
    # Goldblum's KD term is τ²·KL at τ = 30: float32 rounding in the KL (~1e-7) comes out ×900, so 0 ± 1e-4
    assert ard_goldblum_loss(z, z, y).get("loss_kd_adv").item() == pytest.approx(0.0, abs=1e-4)
    terms = trades_loss(z, z, y, beta=6.0)
    assert terms["loss_trades"].item() == pytest.approx(0.0, abs=1e-6) and terms["loss_ce"].item() > 0
    assert sum(rslad_loss(torch.randn(8, 10, generator=gen), z, z).values()).item() > 0

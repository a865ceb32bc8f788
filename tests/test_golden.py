"""Golden values of the distillation and adversarial losses, computed by hand from their equations.

Fixtures are logits whose softmax is exact: z = [ln 3, 0] gives p = [3/4, 1/4]; z = [0, 0] gives [1/2, 1/2].
KL(p ‖ q) = Σ p_c ln(p_c / q_c); every expected value below is written out with ``math`` only.
"""

import math

import pytest
import torch

from shieldkit.losses.adversarial import ard_goldblum_loss, ard_ranking_loss, rslad_loss, trades_loss
from shieldkit.losses.kd import hinton_kd_loss, kd_loss
from shieldkit.losses.nasty import nasty_loss
from shieldkit.losses.ranking import categorical_ranking_loss, discrepancy_ranking_loss, sample_ranking_loss

Z3 = torch.tensor([[math.log(3.0), 0.0]])  # softmax = [3/4, 1/4]
Z0 = torch.tensor([[0.0, 0.0]])            # softmax = [1/2, 1/2]
Y0 = torch.tensor([0])
REL = 1e-5  # float32 arithmetic: a few ulps of relative error
KL_34_12 = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)  # KL([3/4,1/4] ‖ [1/2,1/2])
KL_12_34 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)    # KL([1/2,1/2] ‖ [3/4,1/4])


def kl_at_tau2() -> float:
    """KL(softmax(Z3/2) ‖ softmax(Z0/2)): softmax([ln √3, 0]) = [√3, 1] / (√3 + 1)."""
    r3 = math.sqrt(3.0)
    p = [r3 / (r3 + 1), 1 / (r3 + 1)]
    return sum(pc * math.log(pc / 0.5) for pc in p)


def test_kd_loss_golden():
    """L_KD = τ²·KL(σ(z_t/τ) ‖ σ(z_s/τ))."""
    assert kd_loss(Z0, Z3, tau=1.0).item() == pytest.approx(KL_34_12, rel=REL)
    assert kd_loss(Z0, Z3, tau=2.0).item() == pytest.approx(4 * kl_at_tau2(), rel=REL)


def test_hinton_kd_golden():
    """(1 − α)·CE(z_s, y) + α·τ²·KL, α = 0.25, τ = 2: CE([0,0], 0) = ln 2."""
    t = hinton_kd_loss(Z0, Z3, Y0, alpha=0.25, tau=2.0)
    assert t["loss_ce"].item() == pytest.approx(0.75 * math.log(2), rel=REL)
    assert t["loss_kd"].item() == pytest.approx(0.25 * 4 * kl_at_tau2(), rel=REL)
    assert set(hinton_kd_loss(Z0, Z3, None, alpha=1.0, tau=4.0)) == {"loss_kd"}  # α = 1 reads no label


def test_trades_golden():
    """CE(f(x), y) + β·KL(softmax f(x) ‖ softmax f(x')): clean Z3, adversarial Z0, β = 6."""
    t = trades_loss(Z3, Z0, Y0, beta=6.0)
    assert t["loss_ce"].item() == pytest.approx(-math.log(0.75), rel=REL)
    assert t["loss_trades"].item() == pytest.approx(6 * KL_34_12, rel=REL)


def test_rslad_golden():
    """5/6·KL(T(x) ‖ S(x')) + 1/6·KL(T(x) ‖ S(x)): the student's clean logits equal the teacher's."""
    t = rslad_loss(student_adv=Z0, student_clean=Z3, teacher_clean=Z3)
    assert t["loss_kl_adv"].item() == pytest.approx(5 / 6 * KL_34_12, rel=REL)
    assert t["loss_kl_clean"].item() == pytest.approx(0.0, abs=1e-7)


def test_ard_goldblum_golden():
    """α·τ²·KL(T(x)/τ ‖ S(x')/τ) + (1 − α)·CE(S(x), y), α = 0.5, τ = 2."""
    t = ard_goldblum_loss(student_adv=Z0, teacher_clean=Z3, labels=Y0, student_clean=Z0, alpha=0.5, tau=2.0)
    assert t["loss_kd_adv"].item() == pytest.approx(0.5 * 4 * kl_at_tau2(), rel=REL)
    assert t["loss_ce"].item() == pytest.approx(0.5 * math.log(2), rel=REL)


def test_nasty_golden():
    """CE(z, y) − ω·τ²·KL(σ(z/τ) ‖ σ(z_a/τ)), ω = 0.1, τ = 1: the model's own distribution comes first."""
    t = nasty_loss(Z0, Z3, Y0, tau=1.0, omega=0.1)
    assert t["loss_ce"].item() == pytest.approx(math.log(2), rel=REL)
    assert t["loss_adv"].item() == pytest.approx(-0.1 * KL_12_34, rel=REL)


# ranking: one row of 3 logits, pairs (0,1), (0,2), (1,2); the student's order is the teacher's reversed
T_ROW = torch.tensor([[2.0, 1.0, 0.0]])
S_ROW = torch.tensor([[0.0, 1.0, 2.0]])
REVERSED = (2 * (2 * math.tanh(1)) ** 2 + (2 * math.tanh(2)) ** 2) / 3  # mean of (tanh(γΔt) − tanh(γΔs))²


def test_categorical_ranking_golden():
    """L_cat = mean over pairs (i<j) of (tanh γ(t_i − t_j) − tanh γ(s_i − s_j))², row-wise."""
    assert categorical_ranking_loss(S_ROW, T_ROW, gamma=1.0).item() == pytest.approx(REVERSED, rel=REL)
    half = (2 * (2 * math.tanh(0.5)) ** 2 + (2 * math.tanh(1.0)) ** 2) / 3
    assert categorical_ranking_loss(S_ROW, T_ROW, gamma=0.5).item() == pytest.approx(half, rel=REL)


def test_sample_ranking_golden():
    """L_sample ranks the samples of each class (column-wise): two samples whose order flips in both columns."""
    teacher = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    student = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert sample_ranking_loss(student, teacher, gamma=1.0).item() == pytest.approx((2 * math.tanh(1)) ** 2, rel=REL)


def test_discrepancy_ranking_golden():
    """L_disc ranks Δ = z(x') − z(x): teacher Δ = [2,1,0], student Δ = [0,1,2]: the reversed row again."""
    value = discrepancy_ranking_loss(student_adv=torch.tensor([[1.0, 2.0, 3.0]]), student_clean=torch.ones(1, 3),
                                     teacher_adv=T_ROW, teacher_clean=torch.zeros(1, 3), gamma=1.0)
    assert value.item() == pytest.approx(REVERSED, rel=REL)


def test_ard_ranking_loss_weights_the_levels():
    """L = L_base + λ1·L_cat + λ2·L_sample + λ3·L_disc, with base none and a single row (no sample pairs)."""
    t = ard_ranking_loss(S_ROW, torch.zeros(1, 3), T_ROW, torch.zeros(1, 3), torch.tensor([0]),
                         levels=("cat", "disc"), lambdas=(0.5, 7.0, 2.0), gamma=1.0, base="none")
    assert set(t) == {"loss_rank_cat", "loss_rank_disc"}
    assert t["loss_rank_cat"].item() == pytest.approx(0.5 * REVERSED, rel=REL)
    assert t["loss_rank_disc"].item() == pytest.approx(2.0 * REVERSED, rel=REL)

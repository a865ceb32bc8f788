"""The Skeptical Student (Kundu et al., NeurIPS 2021): its loss on hand-computed logits, its network (auxiliary heads
on the inner stages), and on digits the gain the paper reports: against a deliberately nasty teacher it learns far
more than a plain KD student, and against a normal teacher it stays a normal student."""

import math

import pytest
import torch

import shieldkit
from shieldkit.errors import InputError
from shieldkit.losses import skeptical_loss
from shieldkit.methods import SkepticalKD
from shieldkit.models import create_model
from shieldkit.models.auxiliary_heads import with_auxiliary_heads
from shieldkit.verify.kd import KDProbeConfig, kd_probe, paired_gain, student_configs


def test_skeptical_loss_on_hand_computed_logits():
    """Two classes, so every KL and CE has a closed form: z = (a, 0) gives p = (σ(a), 1 − σ(a))."""
    def sig(a):
        return 1 / (1 + math.exp(-a))

    def ce(a, label):  # −log p_label for z = (a, 0)
        return -math.log(sig(a) if label == 0 else 1 - sig(a))

    def kl(a_target, a_model, tau):  # KL(σ(z_target/τ) || σ(z_model/τ))
        p, q = sig(a_target / tau), sig(a_model / tau)
        return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))

    final, deep, shallow, teacher = (torch.tensor([[a, 0.0]]) for a in (2.0, 1.0, -1.0, 3.0))
    y = torch.tensor([0])
    alpha, tau, w = 0.9, 4.0, 0.3
    t = skeptical_loss(final, deep, shallow, teacher, y, alpha, tau, w)
    expected = {"loss_ce": ce(2.0, 0), "loss_kd": alpha * tau ** 2 * kl(3.0, -1.0, tau),
                "loss_shallow_ce": (1 - alpha) * ce(-1.0, 0), "loss_self_kd": w * kl(2.0, 1.0, tau),
                "loss_deep_ce": (1 - w) * ce(1.0, 0)}
    assert set(t) == set(expected)
    for name, value in expected.items():
        assert t[name].item() == pytest.approx(value, rel=1e-5), name


def test_the_teacher_reaches_only_the_shallow_head():
    """The final head's gradient from the teacher is zero: only the shallow head's KD term reads the teacher."""
    torch.manual_seed(0)
    final, deep, shallow = (torch.randn(6, 10, requires_grad=True) for _ in range(3))
    y = torch.randint(0, 10, (6,))
    a, b = torch.randn(6, 10), torch.randn(6, 10) * 5
    g = [torch.autograd.grad(sum(skeptical_loss(final, deep, shallow, t, y, 0.9, 4.0).values()), (final, shallow))
         for t in (a, b)]
    assert torch.allclose(g[0][0], g[1][0])           # the final head: the same whatever the teacher says
    assert not torch.allclose(g[0][1], g[1][1])       # the shallow head: moved by the teacher


def test_auxiliary_heads_keep_the_network_and_add_a_head_per_inner_stage():
    torch.manual_seed(0)
    base = create_model("cnn3-8", 10, mean=(0.5,) * 3, std=(0.5,) * 3).eval()
    model = with_auxiliary_heads(base).eval()
    x = torch.rand(4, 3, 16, 16)
    heads = model.heads(x)
    assert len(heads) == 3 and all(h.shape == (4, 10) and h.dtype == torch.float32 for h in heads)
    assert torch.equal(model(x), heads[0])
    assert torch.allclose(model(x), base(x))          # the same stages and tail: the network it was built from
    out = SkepticalKD(depth=0).step(model.train(), x, torch.arange(4), torch.randn(4, 10))
    assert out["loss"].requires_grad and out["logits"].shape == (4, 10)
    with pytest.raises(InputError, match="sequential network"):
        with_auxiliary_heads(create_model("resnet8", 10))
    with pytest.raises(InputError, match="skeptical student needs a sequential family"):
        KDProbeConfig(families=("resnet8",), skeptical=True)
    assert "skeptical_tau4" in student_configs(KDProbeConfig(skeptical=True))
    assert "skeptical_tau4" not in student_configs(KDProbeConfig())


@pytest.fixture(scope="module")
def digits_teachers(digits16):
    """A cnn3 on digits (16×16) and a Nasty Teacher made from it (ω = 0.1, τ = 4: its own accuracy stays within a
    few points, a plain KD student of it falls far below a hard-label student)."""
    original = shieldkit.train("cnn3", digits16, run={"epochs": 10, "lr": 0.05, "progress": False},
                               model_kwargs={"width": 16}).model
    nasty = shieldkit.protect(original, digits16, method="nasty", settings={"tau": 4.0, "omega": 0.1},
                              run={"epochs": 10, "lr": 0.05, "progress": False}).model
    return original, nasty


def test_the_skeptical_student_learns_from_a_nasty_teacher(digits16, digits_teachers):
    """Paired over 3 seeds on a 30 % attacker split (measured here: KD ≈ 52 %, skeptical ≈ 75 %, hard labels ≈ 77 %;
    the paired gain ≈ +23 points with a per-seed spread of about 4): the skeptical student's 95 % lower bound over
    the KD student's must clear 10 points. Against the original teacher it must not collapse (within 10 points of a
    hard-label student, mean over seeds)."""
    original, nasty = digits_teachers
    cfg = KDProbeConfig(families=("cnn3-8",), epochs=10, taus=(4.0,), soft_only_taus=(), pseudo_label=False,
                        skeptical=True, seeds=(0, 1, 2), attacker_fraction=0.3, selection_fraction=0.0,
                        baseline="labels", precision="fp32", device="cpu")
    against_nasty = kd_probe(nasty, digits16, cfg, progress=False)["students"]
    gain = paired_gain(against_nasty["cnn3-8/skeptical_tau4"]["runs"], against_nasty["cnn3-8/kd_tau4"]["runs"])
    assert gain["lower95"] > 10.0, gain
    against_original = kd_probe(original, digits16, cfg, progress=False)["students"]
    assert against_original["cnn3-8/skeptical_tau4"]["mean"] > against_original["cnn3-8/hard"]["mean"] - 10.0

"""Attacks: stay in the ε-ball and the image box, raise the loss they ascend, leave the model as they found it."""

import pytest
import torch
import torch.nn.functional as F

from shieldkit.attacks import FGSM, PGD, CWInf, ScoreModule, create_attack, cw_margin_objective, kl_objective
from shieldkit.data import iterate_batches
from shieldkit.errors import InputError, UnknownNameError
from shieldkit.robustness import RobustnessConfig, evaluate_robustness

EPS = 8 / 255


@pytest.fixture(scope="module")
def trained(digits_models):
    return digits_models[0].model.eval()


@pytest.fixture(scope="module")
def tiny():
    """An untrained 8-wide CNN (milliseconds): enough where only an invariant of the attack is checked."""
    from shieldkit.models import create_model

    torch.manual_seed(0)
    return create_model("cnn3", 10, width=8).eval()


@pytest.fixture(scope="module")
def batch(digits):
    x, y = next(iterate_batches(digits.test, 64))
    return x, y


def _in_ball(adv, x, eps):
    return (adv - x).abs().max().item() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1


@pytest.mark.parametrize("attack", [FGSM(EPS), PGD(EPS, 2 / 255, 10), PGD(EPS, 2 / 255, 5, loss="kl"), CWInf(EPS)],
                         ids=["fgsm", "pgd-ce", "pgd-kl", "cw"])
def test_attack_stays_in_ball_and_box(tiny, batch, attack):
    x, y = batch
    adv = attack(tiny, x, y)
    assert adv.shape == x.shape and adv.dtype == x.dtype
    assert _in_ball(adv, x, EPS)
    assert not adv.requires_grad


@pytest.mark.slow
def test_pgd_increases_loss_more_with_more_steps(trained, batch):
    x, y = batch
    torch.manual_seed(0)
    losses = [F.cross_entropy(trained(a), y).item() for a in
              (x, FGSM(EPS)(trained, x, y), PGD(EPS, 2 / 255, 10)(trained, x, y))]
    assert losses[0] < losses[1] < losses[2]


@pytest.mark.slow
def test_pgd_kl_moves_output_away_from_reference(trained, batch):
    x, y = batch
    ref = trained(x).detach()
    adv = PGD(EPS, 2 / 255, 10, loss="kl")(trained, x, y, reference=ref)
    assert kl_objective(trained(adv), y, ref).item() > kl_objective(trained(x), y, ref).item() + 1.0


@pytest.mark.slow
def test_cw_margin_sign_and_attack(trained, batch):
    x, y = batch
    logits = trained(x)
    per_image = torch.stack([cw_margin_objective(logits[i:i + 1], y[i:i + 1]) for i in range(len(y))])
    assert torch.equal(per_image > 0, logits.argmax(1) != y)  # margin > 0 exactly when misclassified
    adv = CWInf(EPS, steps=10)(trained, x, y)
    assert cw_margin_objective(trained(adv), y).item() > cw_margin_objective(logits, y).item()


def test_attack_restores_mode_and_leaves_parameter_grads_alone(batch):
    from shieldkit.models import create_model

    model = create_model("cnn3", 10, width=8).train()
    x, y = batch
    PGD(EPS, 2 / 255, 3)(model, x, y)
    assert model.training
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.slow
def test_attacks_lower_accuracy_of_an_undefended_model(trained, digits):
    """An attack that does nothing must fail here. On the undefended ResNet-8 (200 test images, ε = 8/255), over
    5 training seeds (benchmarks/test_margins.py): clean − FGSM ≥ 56.5 points, FGSM − PGD-20 ≥ 21.5, clean − CW
    ≥ 86.0. The thresholds (30, 0, 30 points = 60, 0, 60 images) sit ≥ 4.5 standard deviations below the minima."""
    res = evaluate_robustness(trained, digits.test, RobustnessConfig(attacks=("clean", "fgsm", "pgd20", "cw"), n=200))
    acc = res["accuracy"]
    assert acc["clean"] > 80
    assert acc["clean"] - acc["fgsm"] > 30 and acc["clean"] - acc["cw"] > 30, acc
    assert acc["pgd20"] <= acc["fgsm"], acc  # 20 steps from FGSM's own start direction do at least as well
    assert acc["worst_case"] <= min(acc["fgsm"], acc["pgd20"], acc["cw"])
    assert res["n"] == 200


@pytest.mark.slow
def test_autoattack_and_square_from_torchattacks(trained, digits):
    """On 30 images over 5 seeds (benchmarks/test_margins.py): AutoAttack lowers accuracy by ≥ 93.3 points; Square
    with 1000 queries by ≥ 26.7 (8 images; 4 seeds). Thresholds: 30 points (9 images) and 10 points (3 images)."""
    pytest.importorskip("torchattacks")
    cfg = RobustnessConfig(attacks=("clean", "autoattack", "square"), n=30, square_queries=1000)
    acc = evaluate_robustness(trained, digits.test, cfg)["accuracy"]
    assert acc["clean"] - acc["autoattack"] > 30 and acc["clean"] - acc["square"] >= 10, acc


@pytest.mark.slow
def test_square_runs_on_a_forward_only_scorer(trained, batch):
    pytest.importorskip("torchattacks")
    x, y = batch
    calls = {"n": 0}

    def scorer(images):
        calls["n"] += len(images)
        with torch.no_grad():
            return trained(images)

    adv = create_attack("square", eps=EPS, queries=20)(ScoreModule(scorer), x[:16], y[:16])
    assert _in_ball(adv, x[:16], EPS) and calls["n"] >= 16


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        PGD(EPS, loss="nope")
    with pytest.raises(ValueError):
        PGD(2.0)
    with pytest.raises(UnknownNameError):
        create_attack("deepfool")
    with pytest.raises(InputError, match="unknown robustness attack"):
        RobustnessConfig(attacks="clean,pgd7")
    with pytest.raises(InputError, match="need gradients"):
        evaluate_robustness(None, None, RobustnessConfig(attacks=("pgd20",)), scorer=lambda x: x)


def test_standard_autoattack_uses_the_standard_settings():
    """100 iterations per gradient attack and 9 target classes on a 100-class problem (not torchattacks' 10 / 99)."""
    from shieldkit.attacks.autoattack import standard_attacks
    from shieldkit.attacks.third_party import torchattacks

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 100))
    apgd, apgdt, fab, square = standard_attacks(torchattacks(), model, 8 / 255, 100, 0)
    assert apgd.steps == apgdt.steps == fab.steps == 100
    assert apgdt.n_target_classes == 9 and fab.n_target_classes == 9 and fab.multi_targeted
    assert square.n_queries == 5000
    small = standard_attacks(torchattacks(), model, 8 / 255, 5, 0)
    assert small[1].n_target_classes == 4  # fewer classes than 10: every other class is a target

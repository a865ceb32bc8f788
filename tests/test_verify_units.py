"""verify building blocks: oracles and query counting, zeroth-order gradients, BN matching, data-free
attack mechanics, policies."""

import numpy as np
import pytest
import torch

from shieldkit.errors import InputError
from shieldkit.exporters import export
from shieldkit.models import create_model
from shieldkit.verify import (DataFreeConfig, OnnxOracle, QueryBudgetExceeded, TorchOracle, as_oracle,
                              datafree_attack, load_policy)
from shieldkit.verify.bn_matching import BNStatistics
from shieldkit.verify.zeroth_order import zo_gradient


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("cnn3", 10, width=8).eval()
    d = tmp_path_factory.mktemp("oracle")
    export(model, d / "f32", input_shape="3,16,16", n=8)
    export(model, d / "u8", input_shape="3,16,16", n=8, input_format="uint8")
    return model, d


def test_onnx_and_torch_oracles_agree_and_count(tiny):
    model, d = tiny
    onnx, torch_oracle = OnnxOracle(d / "f32"), TorchOracle(model)
    x = torch.rand(9, 3, 16, 16)
    np.testing.assert_allclose(onnx(x).numpy(), torch_oracle(x).numpy(), atol=1e-4, rtol=1e-4)
    onnx(x[:4])
    assert onnx.queries == 13 and torch_oracle.queries == 9
    assert not onnx.white_box and torch_oracle.white_box
    assert onnx.describe()["provider"] == "CPUExecutionProvider" and "model.onnx" in onnx.describe()["sha256"]


def test_uint8_artefact_oracle_rounds_to_bytes(tiny):
    model, d = tiny
    oracle = OnnxOracle(d / "u8")
    x = torch.rand(5, 3, 16, 16)
    ref = model((x * 255).round() / 255)
    np.testing.assert_allclose(oracle(x).numpy(), ref.detach().numpy(), atol=1e-4, rtol=1e-4)


def test_query_budget_is_enforced_before_the_query(tiny):
    oracle = OnnxOracle(tiny[1] / "f32", budget=10)
    oracle(torch.rand(6, 3, 16, 16))
    with pytest.raises(QueryBudgetExceeded, match="budget of 10"):
        oracle(torch.rand(5, 3, 16, 16))
    assert oracle.queries == 6 and oracle.remaining == 4


def test_as_oracle_kinds(tiny, tmp_path):
    model, d = tiny
    assert isinstance(as_oracle(d / "f32"), OnnxOracle)
    assert isinstance(as_oracle(d / "f32" / "model.onnx"), OnnxOracle)
    assert isinstance(as_oracle(model), TorchOracle)
    with pytest.raises(InputError):
        as_oracle(tmp_path / "missing")


def test_zeroth_order_gradient_points_along_the_true_gradient():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(48, 48, generator=g)
    x = torch.rand(16, 3, 4, 4, generator=g)

    def loss(images):
        return (images.flatten(1) @ w).pow(2).sum(1) / 48

    xr = x.clone().requires_grad_(True)
    loss(xr).sum().backward()
    est, base = zo_gradient(loss, x, directions=200, epsilon=1e-3, generator=g)
    assert torch.allclose(base, loss(x))
    cos = torch.nn.functional.cosine_similarity(est.flatten(1), xr.grad.flatten(1), dim=1)
    assert cos.min() > 0.5, cos
    # with one direction the estimate is noisy but still positively aligned on average
    est1, _ = zo_gradient(loss, x, directions=1, epsilon=1e-3, generator=g)
    assert torch.nn.functional.cosine_similarity(est1.flatten(1), xr.grad.flatten(1), dim=1).mean() > 0


def test_bn_statistics_loss_is_small_on_matching_data():
    bn = torch.nn.BatchNorm2d(4).eval()
    stats = BNStatistics(torch.nn.Sequential(bn))
    stats.active = True
    g = torch.Generator().manual_seed(0)
    bn(torch.randn(256, 4, 8, 8, generator=g))
    matching = stats.loss().item()
    bn(3 + 2 * torch.randn(256, 4, 8, 8, generator=g))
    shifted = stats.loss().item()
    assert matching < 0.1 < 1.0 < shifted
    stats.active = False
    bn(torch.randn(8, 4, 8, 8))
    assert stats.loss().item() == 0.0  # nothing recorded while inactive
    stats.remove()


def test_black_box_datafree_stops_at_its_query_budget(tiny, digits16):
    oracle = OnnxOracle(tiny[1] / "f32")
    cfg = DataFreeConfig(iterations=50, batch_size=8, student_steps=2, ngf=8, nz=16, query_budget=200,
                         student_kwargs={"width": 4})
    r = datafree_attack(oracle, digits16, cfg, progress=False)
    per_iteration = 8 * 2 + 2 * 8  # generator: batch·(1 direction + 1); student: 2 steps·batch
    assert r["mode"] == "black-box" and r["stopped"] == "query budget"
    assert r["iterations"] == 200 // per_iteration and r["queries"] == r["iterations"] * per_iteration <= 200
    from shieldkit.engine import clean_accuracy

    # the reported figure is the returned student's test accuracy (not, e.g., a stale or generator-side number)
    assert r["student_accuracy"] == pytest.approx(clean_accuracy(r["student"], digits16.test)["accuracy"], abs=1e-6)


def test_white_box_datafree_with_bn_matching_runs(digits16):
    teacher = create_model("resnet8", 10, mean=digits16.mean, std=digits16.std).eval()
    cfg = DataFreeConfig(iterations=3, batch_size=8, student_steps=1, ngf=8, nz=16, bn_weight=1.0,
                         student_kwargs={"width": 4})
    r = datafree_attack(TorchOracle(teacher), digits16, cfg, progress=False)
    assert r["mode"] == "white-box" and r["iterations"] == 3 and r["queries"] == 3 * 16
    with pytest.raises(InputError, match="white-box"):
        datafree_attack(_logits_only(teacher), digits16,
                        DataFreeConfig(mode="white", iterations=1), progress=False)


def _logits_only(model):
    oracle = TorchOracle(model)
    oracle.white_box = False
    return oracle


def test_generator_images_are_in_unit_range():
    from shieldkit.verify.generator import Generator

    gen = Generator(nz=16, ngf=8, image_shape=(3, 20, 20))
    x = gen.sample(4, torch.Generator().manual_seed(0))
    assert x.shape == (4, 3, 20, 20) and x.min() >= 0 and x.max() <= 1


def test_policy_parsing(tmp_path):
    p = tmp_path / "release.toml"
    p.write_text('budget = "quick"\nseeds = [0, 1]\n[kd]\nepochs = 3\ntaus = [4.0]\n'
                 '[thresholds]\nmax_kd_gain = 1.0\nmin_accuracy = 90\n')
    pol = load_policy(p)
    assert pol.thresholds.max_kd_gain == 1.0 and pol.thresholds.min_accuracy == 90.0
    assert pol.thresholds.max_datafree_accuracy is None and pol.seeds == [0, 1] and pol.kd == {"epochs": 3, "taus": [4.0]}
    for text, message in [('[thresholds]\nmax_kd_gian = 1\n', "unknown threshold"),
                          ('budgett = "quick"\n', "unknown key"),
                          ('[kd]\nepoch = 3\n', r"unknown \[kd\] key"),
                          ('[thresholds]\nmax_kd_gain = "high"\n', "must be a number"),
                          ('[thresholds\n', "not valid TOML"),
                          ('probes = ["kd", "magic"]\n', "unknown probe")]:
        p.write_text(text)
        with pytest.raises(InputError, match=message):
            load_policy(p)
    with pytest.raises(InputError, match="not found"):
        load_policy(tmp_path / "nope.toml")


@pytest.mark.parametrize("overrides, message", [({"max_kd_gain": float("nan")}, "finite"),
                                                ({"min_accuracy": 200.0}, r"\[0, 100\]"),
                                                ({"min_parity_agreement": 1.5}, r"\[0, 1\]")])
def test_impossible_thresholds_are_refused_at_once(overrides, message):
    from shieldkit.verify.policy import Policy, Thresholds, with_overrides

    with pytest.raises(InputError, match=message):
        with_overrides(Policy(Thresholds()), **overrides)

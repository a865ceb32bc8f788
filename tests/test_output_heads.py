"""Output heads (shieldkit/output_heads.py): the answer keeps the decision (and, for ``confidence``, its
confidence) exactly and carries no ranking of the other classes at any temperature; export puts the head into
the ONNX graph, records it, and keeps the plain network in the safetensors file."""

import json
import math

import numpy as np
import pytest
import torch

from cli_helpers import one_error_line, run
from shieldkit import load_model, train
from shieldkit.errors import InputError
from shieldkit.exporters import export, load_runtime
from shieldkit.output_heads import OutputHead, confidence_logits, decision_logits, head_logits


def _logits(n=64, c=10, scale=5.0, seed=0):
    return torch.randn(n, c, generator=torch.Generator().manual_seed(seed)) * scale


def test_confidence_head_keeps_decision_and_confidence_and_nothing_else():
    z = _logits()
    a = confidence_logits(z)
    assert torch.equal(a.argmax(1), z.argmax(1))
    torch.testing.assert_close(a.softmax(1).max(1).values, z.softmax(1).max(1).values, rtol=1e-5, atol=1e-6)
    # every non-decision logit is exactly 0, so the negatives are equal at every temperature an attacker picks
    off = a.masked_select(torch.ones_like(a, dtype=torch.bool).scatter(1, z.argmax(1, keepdim=True), False))
    assert torch.count_nonzero(off) == 0
    for tau in (0.05, 1.0, 20.0):
        p = (a / tau).softmax(1)
        neg = p.masked_select(torch.ones_like(p, dtype=torch.bool).scatter(1, z.argmax(1, keepdim=True), False))
        assert torch.equal(neg.view(len(z), -1), neg.view(len(z), -1)[:, :1].expand(-1, z.shape[1] - 1))


def test_confidence_head_forgets_how_the_negatives_were_ranked():
    """Two rows with the same decision and confidence but opposite negative rankings get the same answer."""
    row = torch.tensor([[6.0, 3.0, 2.0, 1.0, 0.0]])
    rev = torch.tensor([[6.0, 0.0, 1.0, 2.0, 3.0]])
    torch.testing.assert_close(confidence_logits(row), confidence_logits(rev), rtol=0, atol=1e-6)
    # and the margin is what the equation gives: z_t − logsumexp(z_¬t) + log(C − 1)
    expected = 6.0 - math.log(sum(math.exp(v) for v in (3.0, 2.0, 1.0, 0.0))) + math.log(4)
    assert confidence_logits(row)[0, 0].item() == pytest.approx(expected, abs=1e-5)


def test_confidence_head_is_finite_for_huge_logits():
    z = _logits(scale=1e4)
    a = confidence_logits(z)
    assert torch.isfinite(a).all() and torch.equal(a.argmax(1), z.argmax(1))
    # log-space p_t agrees even where 1 − p_t underflows in float32
    torch.testing.assert_close(a.log_softmax(1).max(1).values, z.log_softmax(1).max(1).values, rtol=1e-4, atol=1e-4)


def test_decision_head_is_the_same_for_every_input_with_the_same_decision():
    z = _logits()
    a = decision_logits(z, 0.9)
    assert torch.equal(a.argmax(1), z.argmax(1))
    torch.testing.assert_close(a.softmax(1).max(1).values, torch.full((len(z),), 0.9))
    assert len(torch.unique(a.max(1).values)) == 1


def test_logits_head_is_the_identity_and_bad_heads_are_refused():
    z = _logits()
    assert torch.equal(head_logits(z, "logits"), z)
    with pytest.raises(InputError, match="unknown output head"):
        head_logits(z, "softmax")
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        OutputHead(torch.nn.Identity(), "decision", 1.0)


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("heads")
    train("cnn3", "digits", epochs=2, lr=0.05, out=d / "m.pt", progress=False, model_kwargs={"width": 8})
    return d / "m.pt"


def test_export_puts_the_head_in_the_graph_and_ships_the_network_only_when_asked(digits_model, tmp_path):
    r = export(digits_model, tmp_path / "art", data="digits", head="confidence", n=128, with_weights=True)
    assert r.manifest.output["weights_shipped"] is True
    m = json.loads((tmp_path / "art" / "manifest.json").read_text())
    assert m["output"]["head"] == "confidence" and r.manifest.output["head"] == "confidence"
    fp32 = m["parity"]["fp32"]["CPUExecutionProvider"]
    assert fp32["accuracy"] == fp32["reference_accuracy"] and fp32["max_abs_diff"] <= 1e-3
    x = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    plain, _ = load_model(digits_model)
    net, _ = load_model(tmp_path / "art" / "model.safetensors")
    with torch.no_grad():
        z = plain.eval()(x)
        assert torch.equal(net.eval()(x), z)  # the safetensors file holds the network, not the head
    got = load_runtime(tmp_path / "art").predict(x.numpy())
    np.testing.assert_allclose(got, confidence_logits(z).numpy(), atol=1e-4, rtol=1e-4)
    assert np.count_nonzero(got) == len(x)  # one non-zero answer per image: the decision's margin


def test_export_takes_the_head_a_protect_run_recorded(digits_model, tmp_path):
    import shieldkit

    shieldkit.protect(digits_model, "digits", out=tmp_path / "p.pt", epochs=1, progress=False, head="decision")
    assert load_model(tmp_path / "p.pt")[1].settings["head"] == "decision"
    r = export(tmp_path / "p.pt", tmp_path / "art", data="digits", n=32)
    assert r.manifest.output["head"] == "decision" and "model.safetensors" not in r.manifest.files
    r = export(tmp_path / "p.pt", tmp_path / "art2", data="digits", n=32, head="logits")
    assert r.manifest.output["head"] == "logits" and "model.safetensors" in r.manifest.files


def test_cli_refuses_an_unknown_head(digits_model, tmp_path):
    r = run("export", digits_model, "--out", tmp_path / "a", "--head", "probs")
    assert r.exit_code == 2 and "--head" in one_error_line(r)
    assert not (tmp_path / "a").exists()

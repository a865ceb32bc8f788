"""Training precision: ``auto`` follows the hardware (and SHIELDKIT_PRECISION), is resolved before a run and recorded;
bf16 autocast runs on any CPU when asked for by name, with fp32 weights and fp32 logits."""

import pytest
import torch

from shieldkit import precision as P
from shieldkit.engine import TrainConfig, fit
from shieldkit.errors import InputError
from shieldkit.methods import Plain
from shieldkit.models import create_model

CPU = torch.device("cpu")


def test_explicit_choices_pass_through_and_unknown_ones_are_refused(monkeypatch):
    monkeypatch.setenv(P.ENV, "fp32")
    assert P.resolve_precision("bf16", CPU) == "bf16" and P.resolve_precision("fp32", CPU) == "fp32"
    with pytest.raises(InputError, match="precision must be one of"):
        P.resolve_precision("fp16", CPU)


@pytest.mark.parametrize("flags,expected", [({"avx512f", "amx_bf16"}, "bf16"), ({"avx512_bf16"}, "bf16"),
                                            ({"avx2", "avx512f"}, "fp32"), (set(), "fp32")])
def test_auto_follows_the_cpu_flags(flags, expected, monkeypatch):
    """A CPU without native bf16 would emulate it (slower than fp32), so it keeps fp32; with AMX or AVX-512-BF16
    auto is bf16. The flags are given, so this holds whatever CPU runs the test."""
    monkeypatch.delenv(P.ENV, raising=False)
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset(flags))
    assert P.resolve_precision("auto", CPU) == expected


def test_the_environment_replaces_auto_and_a_bad_value_is_refused(monkeypatch):
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    monkeypatch.setenv(P.ENV, "fp32")
    assert P.resolve_precision("auto", CPU) == "fp32"
    monkeypatch.setenv(P.ENV, "half")
    with pytest.raises(InputError, match="SHIELDKIT_PRECISION"):
        P.resolve_precision("auto", CPU)


def test_this_machines_flags_are_read():
    """cpu_flags() reads /proc/cpuinfo where there is one (every Linux CI machine)."""
    import os

    if os.path.exists("/proc/cpuinfo"):
        assert P.cpu_flags(), "no flags read from /proc/cpuinfo"


def test_a_train_config_records_what_ran(monkeypatch):
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    monkeypatch.delenv(P.ENV, raising=False)
    assert TrainConfig(device="cpu").precision == "bf16"  # resolved at construction: the record says what ran
    monkeypatch.setenv(P.ENV, "fp32")
    assert TrainConfig(device="cpu").precision == "fp32"
    with pytest.raises(InputError):
        TrainConfig(device="cpu", precision="int4")


def test_logits_are_fp32_under_bf16_autocast():
    model = create_model("cnn3", 10, width=4).eval()
    x = torch.rand(4, 3, 16, 16)
    with P.train_autocast(CPU, "bf16"):
        z = model(x)
        inner = model.net(x)
    assert inner.dtype == torch.bfloat16 and z.dtype == torch.float32  # the network ran in bf16, the logits are fp32
    with P.train_autocast(CPU, "fp32"):
        assert model(x).dtype == torch.float32


def test_a_bf16_run_trains_with_fp32_weights_and_records_bf16(digits16):
    torch.manual_seed(0)
    model = create_model("cnn3", 10, width=8)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=0.05, device="cpu", precision="bf16")
    before = [p.detach().clone() for p in model.parameters()]
    r = fit(model, Plain(), digits16, cfg, progress=False)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast never changes the weights' dtype
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()) if b.requires_grad)
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in r.history)
    assert cfg.precision == "bf16"


def test_the_cli_refuses_an_unknown_precision(tmp_path):
    from cli_helpers import run

    r = run("train", "--data", "digits", "--arch", "cnn3", "--precision", "fp8", "--out", tmp_path / "m.pt")
    assert r.exit_code == 2 and "fp8" in r.output and not (tmp_path / "m.pt").exists()


def test_the_kd_probe_resolves_its_precision(monkeypatch):
    from shieldkit.verify import KDProbeConfig

    monkeypatch.setenv(P.ENV, "fp32")
    assert KDProbeConfig().precision == "fp32"
    assert KDProbeConfig(precision="bf16").precision == "bf16"

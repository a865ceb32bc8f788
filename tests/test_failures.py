"""The failure matrix: bad input and faults across every command.

Each case asserts the same contract: exit code 2 (130 for Ctrl-C), one ``error:`` line that says what is
wrong (the expected words are checked), no traceback, and no file left behind: the case's work directory
holds exactly what it held before the run, byte for byte (an existing ``--out`` survives intact).
Cases run in-process through Typer's test runner on a 1-epoch CNN on the bundled digits (seconds each).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_helpers import one_error_line, run, snapshot
from shieldkit import train
from shieldkit.exporters import export
from shieldkit.models import create_model


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Inputs shared by the cases (read-only for them): a trained checkpoint, its artefact, bad files."""
    d = tmp_path_factory.mktemp("world")
    train("cnn3", "digits", epochs=1, out=d / "model.pt", progress=False)
    export(d / "model.pt", d / "artefact", data="digits", n=64)
    net = create_model("cnn3", 10)
    torch.save(net.net.state_dict(), d / "state_dict.pt")
    bad = create_model("cnn3", 10)
    with torch.no_grad():
        next(bad.parameters()).fill_(float("nan"))
    torch.save(bad.state_dict(), d / "nan.pt")
    torch.save(create_model("cnn3", 10), d / "module.pt")  # a full pickle
    (d / "empty.pt").write_bytes(b"")
    (d / "random.pt").write_bytes(bytes(range(256)) * 8)
    (d / "truncated.pt").write_bytes((d / "model.pt").read_bytes()[:2000])
    from safetensors.torch import save_file

    weights = {k: v.contiguous() for k, v in net.state_dict().items()}
    for name, meta in {"nc": {"num_classes": "abc"}, "kw": {"model_kwargs": "{not json"},
                       "cl": {"classes": "]["}, "ok": {}}.items():
        save_file(weights, str(d / f"{name}.safetensors"), metadata={"arch": "cnn3", "num_classes": "10", **meta})
    gray = np.zeros((40, 28, 28, 1), np.uint8)
    np.savez(d / "gray.npz", x_train=gray, y_train=np.arange(40) % 10, x_test=gray[:20], y_test=np.arange(20) % 10)
    (d / "garbage.npz").write_bytes(b"garbage" * 20)
    np.savez(d / "objects.npz", x_train=np.array([{"a": 1}] * 4, dtype=object), y_train=np.arange(4),
             x_test=np.zeros((2, 8, 8, 3), np.uint8), y_test=np.arange(2))
    np.savez(d / "missing.npz", x_train=np.zeros((10, 8, 8, 3), np.uint8))
    np.savez(d / "floats.npz", x_train=np.zeros((10, 8, 8, 3), np.float32), y_train=np.arange(10) % 2,
             x_test=np.zeros((4, 8, 8, 3), np.float32), y_test=np.arange(4) % 2)
    np.savez(d / "labels.npz", x_train=np.zeros((10, 8, 8, 3), np.uint8), y_train=np.arange(9),
             x_test=np.zeros((4, 8, 8, 3), np.uint8), y_test=np.arange(4) % 2)
    return d


def _tampered(w: Path, work: Path) -> Path:
    import shutil

    shutil.copytree(w / "artefact", work / "tampered")
    with open(work / "tampered" / "model.onnx", "ab") as f:
        f.write(b"x")
    return work / "tampered"


def _deleted(w: Path, work: Path) -> Path:
    import shutil

    shutil.copytree(w / "artefact", work / "incomplete")
    (work / "incomplete" / "model.safetensors").unlink()
    return work / "incomplete"


def _policy(work: Path, text: str) -> Path:
    (work / "policy.toml").write_text(text)
    return work / "policy.toml"


def _json(work: Path, value) -> Path:
    (work / "value.json").write_text(json.dumps(value))
    return work / "value.json"


def _existing(work: Path, name: str = "keep.pt") -> Path:
    (work / name).write_bytes(b"an earlier, good result")
    return work / name


V = ("verify",)
# (id, args(world, work) -> list, words the error line must contain)
CASES = [
    # --- model files -----------------------------------------------------------------------------------------
    ("model-missing", lambda w, o: ["protect", o / "nope.pt", "--out", o / "p.pt"], "not found"),
    ("model-empty", lambda w, o: ["protect", w / "empty.pt", "--out", o / "p.pt"], "empty (0 bytes)"),
    ("model-random-bytes", lambda w, o: ["protect", w / "random.pt", "--out", o / "p.pt"], "not a readable model file"),
    ("model-truncated-zip", lambda w, o: ["protect", w / "truncated.pt", "--out", o / "p.pt"], "not a readable"),
    ("model-is-onnx", lambda w, o: ["harden", "--teacher", w / "artefact" / "model.onnx", "--student", "cnn3",
                                    "--out", o / "h.pt"], "ONNX graph"),
    ("model-is-directory", lambda w, o: ["protect", w / "artefact", "--out", o / "p.pt"], "model.safetensors"),
    ("model-full-pickle", lambda w, o: ["protect", w / "module.pt", "--out", o / "p.pt"], "--trust-pickle"),
    ("model-nan-weights", lambda w, o: ["protect", w / "nan.pt", "--arch", "cnn3", "--num-classes", "10",
                                        "--out", o / "p.pt"], "NaN"),
    ("model-bare-no-arch", lambda w, o: ["protect", w / "state_dict.pt", "--out", o / "p.pt"], "--arch"),
    ("model-wrong-arch", lambda w, o: ["protect", w / "state_dict.pt", "--arch", "resnet8", "--num-classes", "10",
                                       "--out", o / "p.pt"], "does not match arch 'resnet8'"),
    ("safetensors-num-classes", lambda w, o: ["inspect", w / "nc.safetensors"], "corrupt shieldkit metadata"),
    ("safetensors-kwargs-json", lambda w, o: ["inspect", w / "kw.safetensors"], "corrupt shieldkit metadata"),
    ("safetensors-classes-json", lambda w, o: ["inspect", w / "cl.safetensors"], "corrupt shieldkit metadata"),
    ("safetensors-arch-conflict", lambda w, o: ["inspect", w / "ok.safetensors", "--arch", "resnet8"],
     "not 'resnet8'"),
    ("inspect-artefact-num-classes", lambda w, o: ["inspect", w / "artefact", "--num-classes", "100"],
     "do not apply"),
    ("inspect-checkpoint-num-classes", lambda w, o: ["inspect", w / "model.pt", "--num-classes", "100"],
     "--num-classes 100 contradicts it"),
    ("inspect-checkpoint-arch", lambda w, o: ["inspect", w / "model.pt", "--arch", "resnet8"],
     "checkpoint, not 'resnet8'"),
    ("inspect-tampered", lambda w, o: ["inspect", _tampered(w, o)], "integrity FAILED"),
    ("inspect-missing", lambda w, o: ["inspect", o / "nothing"], "not found"),
    ("inspect-deleted-file", lambda w, o: ["inspect", _deleted(w, o)], "integrity FAILED"),
    ("verify-epochs-0", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--epochs", "0"], "--epochs"),
    ("verify-tampered", lambda w, o: ["verify", _tampered(w, o), "--data", "digits", "--budget", "smoke"],
     "changed since export"),
    # --- data --------------------------------------------------------------------------------------------------
    ("data-missing-cifar", lambda w, o: ["train", "--data", "cifar10", "--data-dir", o / "none", "--out", o / "m.pt"],
     "--download"),
    ("data-unknown-name", lambda w, o: ["train", "--data", "imagenet-42", "--out", o / "m.pt"], "unknown dataset"),
    ("npz-not-zip", lambda w, o: ["train", "--data", w / "garbage.npz", "--out", o / "m.pt"], "not a .npz archive"),
    ("npz-pickled-objects", lambda w, o: ["train", "--data", w / "objects.npz", "--out", o / "m.pt"],
     "never loads"),
    ("npz-missing-arrays", lambda w, o: ["train", "--data", w / "missing.npz", "--out", o / "m.pt"], "missing arrays"),
    ("npz-float-images", lambda w, o: ["train", "--data", w / "floats.npz", "--out", o / "m.pt"], "must be uint8"),
    ("npz-label-count", lambda w, o: ["train", "--data", w / "labels.npz", "--out", o / "m.pt"], "labels must be"),
    ("grayscale-vs-rgb-model", lambda w, o: ["protect", w / "model.pt", "--data", w / "gray.npz",
                                             "--out", o / "p.pt"], "3-channel"),
    ("verify-data-shape", lambda w, o: ["verify", w / "artefact", "--data", w / "gray.npz", "--max-kd-gain", "1"],
     "takes images"),
    # --- options -----------------------------------------------------------------------------------------------
    ("train-epochs-0", lambda w, o: ["train", "--epochs", "0", "--out", o / "m.pt"], "epochs"),
    ("train-unknown-arch", lambda w, o: ["train", "--arch", "resnet9000", "--out", o / "m.pt"], "unknown model"),
    ("train-lr-nan", lambda w, o: ["train", "--arch", "cnn3", "--lr", "nan", "--out", o / "m.pt"], "--lr must be a positive number"),
    ("train-unknown-device", lambda w, o: ["train", "--device", "tpu9", "--out", o / "m.pt"], "device"),
    ("train-schedule", lambda w, o: ["train", "--schedule", "sideways", "--out", o / "m.pt"], "schedule"),
    ("protect-beta-negative", lambda w, o: ["protect", w / "model.pt", "--beta", "-1", "--out", o / "p.pt"], "beta"),
    ("protect-tau-zero", lambda w, o: ["protect", w / "model.pt", "--tau", "0", "--out", o / "p.pt"],
     "tau must be a positive number"),
    ("protect-confidence", lambda w, o: ["protect", w / "model.pt", "--confidence", "fixed:2", "--out", o / "p.pt"],
     "between 0 and 1"),
    ("harden-no-teacher", lambda w, o: ["harden", "--student", "cnn3", "--out", o / "h.pt"], "needs a --teacher"),
    ("harden-lambdas", lambda w, o: ["harden", "--teacher", w / "model.pt", "--lambdas", "1,2", "--out", o / "h.pt"],
     "3 comma-separated"),
    ("harden-gamma", lambda w, o: ["harden", "--teacher", w / "model.pt", "--gamma", "0", "--out", o / "h.pt"],
     "gamma"),
    ("harden-levels", lambda w, o: ["harden", "--teacher", w / "model.pt", "--levels", "foo", "--out", o / "h.pt"],
     "unknown ARD level"),
    ("verify-min-accuracy-200", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--min-accuracy", "200"],
     "[0, 100]"),
    ("verify-kd-gain-nan", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--max-kd-gain", "nan"],
     "finite"),
    ("verify-query-budget-0", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--query-budget", "0"],
     "--query-budget"),
    ("verify-seeds", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--seeds", "a,b"], "--seeds"),
    ("verify-attacks", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--probes", "foo"],
     "unknown probe"),
    ("verify-needs-reference", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--max-accuracy-drop", "1"],
     "--reference"),
    ("policy-missing", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--policy", o / "none.toml"],
     "policy file not found"),
    ("policy-not-toml", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--policy",
                                      _policy(o, "[kd\nepochs=")], "not valid TOML"),
    ("policy-epochs-string", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--policy",
                                           _policy(o, '[kd]\nepochs = "ten"\n')], "must be an integer"),
    ("policy-unknown-key", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--policy",
                                         _policy(o, "[kd]\nepochz = 3\n")], "unknown [kd] key"),
    ("evaluate-attacks", lambda w, o: ["evaluate", w / "model.pt", "--attacks", "foo"], "unknown robustness attack"),
    ("evaluate-n-0", lambda w, o: ["evaluate", w / "model.pt", "--n", "0"], "--n"),
    ("export-opset", lambda w, o: ["export", w / "model.pt", "--out", o / "a", "--opset", "10"], "opset"),
    ("export-batch", lambda w, o: ["export", w / "model.pt", "--out", o / "a", "--batch", "abc"], "--batch"),
    ("export-provider", lambda w, o: ["export", w / "model.pt", "--out", o / "a", "--providers", "foo"],
     "not available"),
    # --- output paths, checked before any work ------------------------------------------------------------------
    ("train-out-is-dir", lambda w, o: ["train", "--arch", "cnn3", "--out", o], "is a directory"),
    ("train-out-parent-is-file", lambda w, o: ["train", "--arch", "cnn3", "--out", _existing(o) / "m.pt"],
     "is a file, not a directory"),
    ("protect-out-is-dir", lambda w, o: ["protect", w / "model.pt", "--out", o], "is a directory"),
    ("harden-out-is-dir", lambda w, o: ["harden", "--teacher", w / "model.pt", "--student", "cnn3", "--out", o],
     "is a directory"),
    ("verify-report-is-dir", lambda w, o: ["verify", w / "artefact", "--data", "digits", "--budget", "smoke",
                                           "--report", o], "is a directory"),
    ("evaluate-report-is-dir", lambda w, o: ["evaluate", w / "model.pt", "--attacks", "clean", "--report", o],
     "is a directory"),
    ("export-out-is-file", lambda w, o: ["export", w / "model.pt", "--out", _existing(o)], "is a file"),
    ("export-out-not-empty", lambda w, o: ["export", w / "model.pt", "--out", _existing(o).parent],
     "--overwrite"),
    ("demo-out-dir-is-file", lambda w, o: ["demo", "--smoke", "--out-dir", _existing(o)], "is a file"),
    ("demo-render-missing", lambda w, o: ["demo", "--render", o / "nothing.json"], "is not a file"),
    ("demo-render-not-demo", lambda w, o: ["demo", "--render", _existing(o, "other.json")], "not valid JSON"),
    ("demo-render-other-json", lambda w, o: ["demo", "--render", _json(o, {"rows": {"x": {}}})],
     "not a demo.json"),
]


NEEDS_DATA = ("train", "protect", "harden", "evaluate")  # commands whose --data is required


def with_data(args: list) -> list:
    """``args`` with ``--data digits`` after a command that requires ``--data`` and was not given one: each case is
    about its own bad input; a missing ``--data`` is a usage error of its own (tests/test_cli.py, through the real entry
    point)."""
    if args and args[0] in NEEDS_DATA and "--data" not in args and "--config" not in args:
        return [args[0], "--data", "digits", *args[1:]]
    return args


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, world, tmp_path):
    name, build, words = case
    work = tmp_path / "work"
    work.mkdir()
    args = with_data(build(world, work))
    before, world_before = snapshot(work), snapshot(world)
    r = run(*args)
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    line = one_error_line(r)
    assert words in line, line
    assert "weights_only" not in line and "allow_pickle" not in line  # never advise unsafe loading
    assert snapshot(work) == before, f"{name} left files behind: {set(snapshot(work)) - set(before)}"
    assert snapshot(world) == world_before


def test_matrix_is_large_enough():
    """At least 40 bad-input and fault cases, across every command that reads user input."""
    assert len(CASES) + len(FAULTS) >= 40
    text = " ".join(c[0] for c in CASES + FAULTS)
    assert all(cmd in text for cmd in ("train", "protect", "harden", "export", "inspect", "verify", "evaluate",
                                       "demo", "policy", "npz", "safetensors"))


# --- faults during a run: disk full, Ctrl-C ---------------------------------------------------------------------

def _disk_full(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def _interrupt(*_a, **_k):
    raise KeyboardInterrupt


FAULTS = [
    # (id, what to patch, replacement, expected exit code, words)
    ("train-ctrl-c", "shieldkit.api.fit", _interrupt, 130, "interrupted"),
    ("protect-ctrl-c", "shieldkit.api.fit", _interrupt, 130, "interrupted"),
    # a full disk under train and protect is a real one (tests/test_real_faults.py): a patched torch.save raising
    # OSError is not what a real disk raises through torch's zip writer (RuntimeError), so it proved nothing
    ("harden-ctrl-c", "shieldkit.api.fit", _interrupt, 130, "interrupted"),
    ("verify-ctrl-c", "shieldkit.verify.probes.train_baselines", _interrupt, 130, "interrupted"),
    ("export-ctrl-c", "shieldkit.exporters.export.export_onnx", _interrupt, 130, "interrupted"),
    ("export-disk-full", "shieldkit.exporters.export.export_safetensors", _disk_full, 2, "the disk is full"),
]


def _fault_args(name: str, w: Path, o: Path) -> list:
    out = o / "keep.pt"
    return {
        "train": ["train", "--arch", "cnn3", "--epochs", "1", "--out", out],
        "protect": ["protect", w / "model.pt", "--epochs", "1", "--out", out],
        "harden": ["harden", "--teacher", w / "model.pt", "--student", "cnn3", "--epochs", "1", "--out", out],
        "verify": ["verify", w / "artefact", "--data", "digits", "--budget", "smoke", "--report", o / "r.json"],
        "export": ["export", w / "model.pt", "--out", o / "artefact"],
    }[name.split("-")[0]]


@pytest.mark.parametrize("fault", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault(fault, world, tmp_path, monkeypatch):
    """A fault mid-run: one line, its exit code, and the earlier ``--out`` (or none) exactly as it was."""
    import importlib

    name, target, replacement, code, words = fault
    module, attr = target.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), attr, replacement)
    work = tmp_path / "work"
    work.mkdir()
    _existing(work)
    args = with_data(_fault_args(name, world, work))
    before = snapshot(work)
    r = run(*args)
    assert r.exit_code == code, (r.exit_code, r.output)
    line = one_error_line(r)
    assert words in line, line
    assert snapshot(work) == before, set(snapshot(work)) ^ set(before)


def test_paths_with_spaces_and_non_ascii(world, tmp_path):
    """A path a user may well have: spaces and non-ASCII letters, through train -> export -> inspect."""
    d = tmp_path / "my models" / "modèle été"
    r = run("train", "--data", "digits", "--arch", "cnn3", "--epochs", "1", "--out", d / "réseau 1.pt")
    assert r.exit_code == 0, r.output
    r = run("export", d / "réseau 1.pt", "--out", d / "artéfact", "--data", "digits", "--n", "32")
    assert r.exit_code == 0, r.output
    r = run("inspect", d / "artéfact", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["integrity"].startswith("ok")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_output_directory_is_reported_before_training(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = run("train", "--arch", "cnn3", "--epochs", "1", "--out", ro / "m.pt")
        assert r.exit_code == 2 and "not writable" in one_error_line(r)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)

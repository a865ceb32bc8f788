"""``shieldkit verify`` end to end on digits, through ONNX Runtime: the unprotected model FAILS,
its RML-protected copy PASSES; reports validate; bad input exits 2."""

import json

import pytest

from cli_helpers import one_error_line, run
from shieldkit import save_checkpoint
from shieldkit.exporters import export
from shieldkit.verify import REPORT_SCHEMA, KDProbeConfig, verify

# the demo's probe: CNN3-16 students on a stratified 20 % attacker split (288 images), 30 epochs, 2 seeds
POLICY = """
budget = "quick"
seeds = [0, 1]
attacks = ["kd"]

[kd]
epochs = 30
batch_size = 64
attacker_fraction = 0.2
taus = [1.0, 4.0]

[thresholds]
max_kd_gain = 0.5
min_parity_agreement = 0.999
"""


@pytest.fixture(scope="module")
def artefacts(digits_models, digits, tmp_path_factory):
    d = tmp_path_factory.mktemp("verify")
    original, protected = digits_models
    for name, run_result in (("original", original), ("protected", protected)):
        save_checkpoint(d / f"{name}.pt", run_result.model, classes=digits.classes, input_shape=digits.input_shape)
        export(d / f"{name}.pt", d / name, data=digits, parity_n=200)
    (d / "release.toml").write_text(POLICY)
    return d


@pytest.fixture(scope="module")
def verdicts(artefacts):
    out = {}
    for name in ("original", "protected"):
        r = run("verify", artefacts / name, "--data", "digits", "--policy", artefacts / "release.toml",
                "--report", artefacts / f"{name}.json")
        out[name] = (r, json.loads((artefacts / f"{name}.json").read_text()))
    return out


def test_unprotected_model_fails(verdicts):
    r, report = verdicts["original"]
    assert r.exit_code == 1, r.output
    assert "kd_gain" in one_error_line(r) and "max_kd_gain" in one_error_line(r)
    assert report["verdict"] == "FAIL" and report["figures"]["kd_gain"] > 0.5


def test_protected_model_passes(verdicts):
    r, report = verdicts["protected"]
    assert r.exit_code == 0, r.output
    assert report["verdict"] == "PASS" and report["figures"]["kd_gain"] <= 0.5
    assert report["figures"]["kd_gain"] < verdicts["original"][1]["figures"]["kd_gain"]


def test_report_validates_and_counts_queries(verdicts, artefacts, digits):
    import jsonschema

    for name, (_, report) in verdicts.items():
        jsonschema.validate(report, REPORT_SCHEMA)
        assert report["artefact"]["kind"] == "onnxruntime" and report["artefact"]["provider"] == "CPUExecutionProvider"
        manifest = json.loads((artefacts / name / "manifest.json").read_text())
        assert report["artefact"]["sha256"]["model.onnx"] == manifest["files"]["model.onnx"]["sha256"]
        kd = report["attacks"]["kd"]
        # every augmented attacker batch of every epoch, for each of 2 seeds
        assert kd["queries"] == (kd["settings"]["attacker_images"] // 64) * 64 * 30 * 2
        assert kd["settings"]["seeds"] == [0, 1] and set(kd["figures"]["students"]) >= {"hard", "top1", "kd_tau4"}
        assert {c["name"] for c in report["checks"]} == {"max_kd_gain", "min_parity_agreement"}


def test_same_seed_same_figures(artefacts, digits):
    cfg = KDProbeConfig(epochs=2, batch_size=64, seeds=(3,), taus=(4.0,))
    a = verify(artefacts / "protected", digits, kd_config=cfg, progress=False).report
    b = verify(artefacts / "protected", digits, kd_config=cfg, progress=False).report
    assert a["attacks"]["kd"]["figures"]["students"] == b["attacks"]["kd"]["figures"]["students"]
    assert a["verdict"] == b["verdict"]


def test_query_budget_too_small_exits_2(artefacts):
    r = run("verify", artefacts / "protected", "--data", "digits", "--policy", artefacts / "release.toml",
            "--query-budget", "1000")
    assert r.exit_code == 2 and "queries" in one_error_line(r)


def test_bad_inputs_exit_2(artefacts, tmp_path):
    import shutil

    r = run("verify", tmp_path / "missing", "--data", "digits")
    assert r.exit_code == 2 and "not" in one_error_line(r)
    copy = tmp_path / "tampered"
    shutil.copytree(artefacts / "protected", copy)
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes()[:-10] + b"0123456789")
    r = run("verify", copy, "--data", "digits", "--report", tmp_path / "r.json")
    assert r.exit_code == 2 and "changed since export" in one_error_line(r)
    assert not (tmp_path / "r.json").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text("[thresholds]\nmax_kd_gian = 0.5\n")
    r = run("verify", artefacts / "protected", "--data", "digits", "--policy", bad)
    assert r.exit_code == 2 and "unknown threshold" in one_error_line(r)
    empty = tmp_path / "empty.npz"
    import numpy as np

    np.savez(empty, x_train=np.zeros((0, 32, 32, 3), np.uint8), y_train=np.zeros(0, np.int64),
             x_test=np.zeros((0, 32, 32, 3), np.uint8), y_test=np.zeros(0, np.int64))
    r = run("verify", artefacts / "protected", "--data", empty)
    assert r.exit_code == 2 and one_error_line(r)
    r = run("verify", artefacts / "protected", "--data", "digits", "--max-accuracy-drop", "1")
    assert r.exit_code == 2 and "--reference" in one_error_line(r)

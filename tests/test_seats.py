"""Seats (verify/seats.py, exporters/graph_cut.py): what a file holder reaches under an output head, what a
deployable artefact ships, and verdicts that need a check and the probe's power.

Fast tier: tiny CNNs on digits, the smoke budget; every assertion is exact (bits, names, exit codes, verdict
logic), not a KD gain of a few points (those are tests/test_verify.py's, with margins from benchmarks/seat_margins.py)."""

import json
import re

import numpy as np
import pytest
import torch

from cli_helpers import one_error_line, run
from shieldkit import load_model, train
from shieldkit.exporters import export, load_runtime
from shieldkit.exporters.graph_cut import cut_below_head, pre_head_tensor
from shieldkit.verify import verify
from shieldkit.verify.oracle import as_oracle
from shieldkit.verify.run import NO_CHECK, inconclusive_reasons, power
from shieldkit.verify.seats import check_seats, model_seats

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("seats")
    train("cnn3", "digits", epochs=2, lr=0.05, out=d / "m.pt", progress=False, model_kwargs={"width": 8})
    return d / "m.pt"


@pytest.fixture(scope="module")
def decision_artefact(model):
    out = model.parent / "decision"
    export(model, out, data="digits", head="decision", n=64)
    return out


def test_a_head_artefact_ships_no_weights_and_names_its_output(decision_artefact):
    m = json.loads((decision_artefact / "manifest.json").read_text())
    assert sorted(m["files"]) == ["model.onnx"] and not (decision_artefact / "model.safetensors").exists()
    assert m["output"]["name"] == "decision" and m["output"]["weights_shipped"] is False
    import onnx

    graph = onnx.load(str(decision_artefact / "model.onnx")).graph
    assert [o.name for o in graph.output] == ["decision"]
    # the recorded pre-head tensor is the input of the head's ArgMax, and export checked the cut graph there
    assert m["output"]["pre_head"] == pre_head_tensor(decision_artefact / "model.onnx") is not None
    cut = m["parity"]["file_seat"]
    assert cut["tensor"] == m["output"]["pre_head"] and cut["max_abs_diff"] <= 1e-3 and cut["top1_agreement"] == 1.0


def test_the_file_seat_reaches_the_network_in_model_safetensors(model, tmp_path):
    """An audit bundle (--with-weights) ships the plain network beside the head: the graph cut below the head gives
    that network's logits on real images (to float tolerance), while the answer is the head's."""
    r = run("export", model, "--data", "digits", "--head", "decision", "--with-weights", "--out", tmp_path / "a",
            "--n", "64")
    assert r.exit_code == 0, r.output
    net, _ = load_model(tmp_path / "a" / "model.safetensors")
    from shieldkit.data import load_dataset

    x = load_dataset("digits").test.x[:200].permute(0, 3, 1, 2).float() / 255
    seats = model_seats(as_oracle(tmp_path / "a"))
    assert seats["file"].same_as is None and "model.safetensors" in seats["file"].reached
    with torch.no_grad():
        z = net.eval()(x)
    file_logits, answer = seats["file"].oracle(x), seats["answer"].oracle(x)
    torch.testing.assert_close(file_logits, z, atol=1e-4, rtol=1e-4)
    assert torch.equal(answer.argmax(1), z.argmax(1))
    assert len(torch.unique(answer.max(1).values)) == 1  # the answer is the decision at one fixed confidence
    assert seats["file"].oracle.budget is None  # a file holder runs the graph locally


def test_a_bare_onnx_is_cut_where_an_attacker_would_cut_it(decision_artefact, tmp_path):
    cut, tensor = cut_below_head(decision_artefact / "model.onnx", tmp_path / "cut.onnx")
    import onnx

    assert [o.name for o in onnx.load(str(cut)).graph.output] == [tensor]
    assert not any(n.op_type == "ArgMax" for n in onnx.load(str(cut)).graph.node)
    seats = model_seats(as_oracle(decision_artefact / "model.onnx"))  # no manifest: found in the graph
    assert seats["file"].oracle.tensor == tensor


def test_a_logits_artefact_has_one_seat(model, tmp_path):
    export(model, tmp_path / "a", data="digits", n=32)
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert m["output"]["pre_head"] is None and "model.safetensors" in m["files"] and m["output"]["name"] == "logits"
    seats = model_seats(as_oracle(tmp_path / "a"))
    assert seats["file"].same_as == "answer" and seats["file"].oracle is seats["answer"].oracle


def test_a_torch_output_head_is_unwrapped_at_the_file_seat(model):
    from shieldkit.output_heads import OutputHead

    net, _ = load_model(model)
    seats = model_seats(as_oracle(OutputHead(net, "decision")))
    assert seats["file"].oracle.module is net and seats["answer"].same_as is None


def test_old_flag_names_still_work_and_contradictions_are_refused(model, tmp_path):
    r = run("export", model, "--data", "digits", "--outputs", "confidence", "--out", tmp_path / "a", "--parity-n", "16")
    assert r.exit_code == 0 and json.loads((tmp_path / "a" / "manifest.json").read_text())["output"]["head"] == \
        "confidence"
    from shieldkit.errors import InputError

    with pytest.raises(InputError, match="disagree"), pytest.warns(FutureWarning, match="outputs= is now head="):
        export(model, tmp_path / "b", head="decision", outputs="logits")


def test_seat_names_are_checked():
    assert check_seats(None) == ("file", "answer") and check_seats("answer,file") == ("file", "answer")
    from shieldkit.errors import InputError

    for bad in ([], ["server"], "file,devices"):
        with pytest.raises(InputError):
            check_seats(bad)


def test_power_needs_a_reference_whose_lower_bound_clears_the_margin():
    th = {"max_kd_gain": 0.5}
    f = {"kd_gain": 0.1}
    assert "no --reference" in inconclusive_reasons(f, th, [{}])[0]
    strong = {"detected": {"attacker": "a", "lower95": 0.9, "mean": 2.0}, "seat": "file"}
    weak = {"detected": {"attacker": "a", "lower95": 0.4, "mean": 2.0}, "seat": "file"}  # mean clears, bound not
    assert inconclusive_reasons({**f, "reference": strong}, th, [{}]) == []
    assert power({**f, "reference": strong}, th)["shown"] is True
    reasons = inconclusive_reasons({**f, "reference": weak}, th, [{}])
    assert len(reasons) == 1 and "lower bound +0.40" in reasons[0]
    assert inconclusive_reasons(f, {"max_kd_gain": None}, [{}]) == []
    assert inconclusive_reasons(f, {"max_kd_gain": None}, []) == [NO_CHECK]


def test_a_policy_with_no_applicable_check_is_inconclusive_never_pass(model, tmp_path):
    """The reproduced case: only max_recorded_accuracy_drop, skipped on a bare .onnx (no record travels with it),
    on an unprotected model: exit 3, not PASS."""
    export(model, tmp_path / "a", data="digits", n=32)
    policy = tmp_path / "p.toml"
    policy.write_text("budget = \"smoke\"\n[thresholds]\nmax_recorded_accuracy_drop = 3.0\n")
    r = run("verify", tmp_path / "a" / "model.onnx", "--data", "digits", "--policy", policy, "--report",
            tmp_path / "r.json")
    assert r.exit_code == 3, r.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "INCONCLUSIVE" and report["checks"] == [] and NO_CHECK in report["inconclusive"]


def test_both_seats_are_reported_and_the_shared_students_train_once(decision_artefact, model, tmp_path):
    import jsonschema

    from shieldkit.verify import REPORT_SCHEMA

    r = verify(decision_artefact, "digits", budget="smoke", reference=model.parent / "decision", progress=False,
               policy={"max_kd_gain": 1000.0}, report=tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    assert set(report["seats"]) == {"file", "answer"} and report["gated_seats"] == ["file", "answer"]
    assert {(c["name"], c["seat"]) for c in report["checks"] if c["name"] == "max_kd_gain"} == \
        {("max_kd_gain", "file"), ("max_kd_gain", "answer")}
    probes = report["attacks"]["kd"]["figures"]["seats"]
    # the top-1 students see only the decisions, which the head keeps: trained once, reused at the other seat
    for family in ("cnn3-8",):
        assert probes["file"]["students"][f"{family}/top1"] == probes["answer"]["students"][f"{family}/top1"]
    # the reference is this very artefact: its file-seat students are all reused
    assert report["attacks"]["kd"]["figures"]["students_reused"] >= 2
    # a 1000-point margin no reference clears: INCONCLUSIVE (its lower bound cannot clear it), seat by seat too
    assert r.verdict == "INCONCLUSIVE" and all(s["verdict"] == "INCONCLUSIVE" for s in report["seats"].values())


def test_answer_only_gating_says_what_it_assumed(decision_artefact, tmp_path):
    r = run("verify", decision_artefact, "--data", "digits", "--budget", "smoke", "--seats", "answer",
            "--max-kd-gain", "1000", "--report", tmp_path / "r.json", "--summary", tmp_path / "s.md", "--junit",
            tmp_path / "j.xml", "--model-card", tmp_path / "card.md")
    assert r.exit_code == 3, r.output  # no reference: the probe's power is unproven
    assert "no --reference" in one_error_line(r)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["gated_seats"] == ["answer"] and "never leave a server" in report["assumed"]
    assert report["seats"]["file"]["gated"] is False and report["seats"]["file"]["figures"] is not None
    assert [c.get("seat") for c in report["checks"] if c["name"] == "max_kd_gain"] == ["answer"]
    summary, card = (tmp_path / "s.md").read_text(), (tmp_path / "card.md").read_text()
    for text in (summary, card):
        assert "file seat" in text.lower() or "| file" in text
        assert "never leave a server" in text
    junit = (tmp_path / "j.xml").read_text()
    assert 'name="max_kd_gain@answer"' in junit and 'name="seat.file"' in junit and "not gated" in junit
    assert re.search(r"\| answer \| a client of the model as shipped", summary)


def test_the_quick_budget_time_quoted_in_help_is_the_measured_one():
    """verify --help and the README quote QUICK_TIME; it must be what benchmarks/seats_cifar10.py measured (the
    protected artefact's own probe, both seats, and the reference's probe apart), rounded to minutes."""
    from shieldkit.verify.budgets import QUICK_TIME

    m = json.loads((ROOT / "benchmarks" / "results" / "seats_cifar10.json").read_text())["models"]["protected"]
    own, ref = m["kd_seconds_without_references"], m["kd_seconds_by_part"]["references"]
    assert f"about {round(own / 60)} min for an artefact with a head" in QUICK_TIME
    assert f"about {round(ref / 60)} min more per reference" in QUICK_TIME


def test_the_manifest_names_files_never_the_build_machines_directories(model, tmp_path):
    """The checkpoint's record holds absolute paths of where it was built (its source, --out...); the artefact that
    ships carries their file names only."""
    export(model, tmp_path / "a", data="digits", n=16)
    text = (tmp_path / "a" / "manifest.json").read_text()
    assert str(model.parent) not in text and str(tmp_path) not in text
    m = json.loads(text)
    assert m["provenance"]["source"] == model.name

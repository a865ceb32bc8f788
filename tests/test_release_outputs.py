"""What a release pipeline reads: the Markdown summary (also into $GITHUB_STEP_SUMMARY), the JUnit XML, the plot and
the model card, written atomically from the verification report (their figures are the report's)."""

import json
from xml.etree import ElementTree as ET

import pytest

from cli_helpers import one_error_line, run
from shieldkit import train
from shieldkit.exporters import export


@pytest.fixture(scope="module")
def artefact(tmp_path_factory):
    d = tmp_path_factory.mktemp("release")
    train("cnn3", "digits", epochs=2, lr=0.05, progress=False, out=d / "m.pt", model_kwargs={"width": 8})
    export(d / "m.pt", d / "art", data="digits", n=64)
    return d / "art"


def test_outputs_agree_with_the_report(artefact, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    step = tmp_path / "step_summary.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    out = {k: tmp_path / v for k, v in (("report", "r.json"), ("summary", "s.md"), ("junit", "j.xml"),
                                        ("plot", "p.png"), ("card", "MODEL_CARD.md"))}
    policy = tmp_path / "parity.toml"  # a PASS without a reference: no KD margin, whose power would need one
    policy.write_text('budget = "smoke"\n[thresholds]\nmin_parity_agreement = 0.99\n')
    r = run("verify", artefact, "--data", "digits", "--policy", policy, "--report",
            out["report"], "--summary", out["summary"], "--junit", out["junit"], "--plot", out["plot"],
            "--model-card", out["card"])
    assert r.exit_code == 0, r.output
    report = json.loads(out["report"].read_text())
    suite = ET.parse(out["junit"]).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == len(report["checks"]) + len(report["skipped_checks"]) + 1
    assert {c.get("name") for c in cases} >= {c["name"] for c in report["checks"]} | {"verdict"}
    assert suite.get("failures") == "0"
    summary = out["summary"].read_text()
    assert "PASS" in summary and all(f"`{c['name']}`" in summary for c in report["checks"]) and "p.png" in summary
    assert step.read_text() == "earlier step\n" + summary  # appended for GitHub Actions
    assert out["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = out["card"].read_text()
    assert f"{report['figures']['accuracy']:.2f} %" in card and report["figures"]["kd_attacker"] in card
    assert f"{report['figures']['kd_gain_upper']:+.2f}" in card and "not tested" in card.lower()
    assert "**file seat**" in card and "**answer seat**" in card
    # front matter as model hubs read it: YAML between the first two '---' lines, the report's own figures
    import yaml

    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["library_name"] == "shieldkit" and meta["datasets"] == [report["dataset"]["name"]]
    assert "image-classification" in meta["tags"] and f"verify-{report['verdict'].lower()}" in meta["tags"]
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert metrics[0] == {"type": "accuracy", "value": round(report["figures"]["accuracy"], 2),
                          "name": metrics[0]["name"]}
    gains = {m["name"].split(" at the ")[1].split(" seat")[0]: m["value"] for m in metrics if m["type"] == "kd_gain"}
    assert gains == {seat: round(s["figures"]["kd_gain"], 2) for seat, s in report["seats"].items()}
    assert card.split("---\n", 2)[2].lstrip().startswith("# Model card")
    assert not list(tmp_path.glob(".*.tmp"))


def test_junit_marks_failed_checks(artefact, tmp_path):
    r = run("verify", artefact, "--data", "digits", "--budget", "smoke", "--max-kd-gain", "1000", "--min-accuracy",
            "99.9", "--junit", tmp_path / "j.xml", "--summary", tmp_path / "s.md")
    assert r.exit_code == 1 and "min_accuracy" in one_error_line(r)
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    failed = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert {c.get("name") for c in failed} == {"min_accuracy", "verdict"} and suite.get("failures") == "2"
    assert "violates min_accuracy" in failed[0].find("failure").get("message") or \
        "violates min_accuracy" in failed[1].find("failure").get("message")
    assert "**FAIL**" in (tmp_path / "s.md").read_text()


def test_output_paths_are_checked_before_work(artefact, tmp_path):
    for flag in ("--summary", "--junit", "--plot", "--model-card"):
        r = run("verify", artefact, "--data", "digits", "--budget", "smoke", flag, tmp_path)
        assert r.exit_code == 2 and "is a directory" in one_error_line(r), flag

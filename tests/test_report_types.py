"""The typed verification report: a real report's JSON reads into records and writes back as the same document;
the outputs read the records, so a figure changed in the JSON shows in every output."""

import copy
import json
from pathlib import Path

import pytest

from shieldkit.errors import InputError
from shieldkit.verify import Check, SeatResult, Verdict, VerificationReport
from shieldkit.verify.report import REPORT_SCHEMA
from shieldkit.verify.summary import junit_xml, markdown_summary, model_card

# two real reports (original: FAIL at both seats; protected), written by `shieldkit demo` and committed
DEMO = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "demo.json"


@pytest.fixture(params=["original", "protected"])
def report_dict(request):
    return json.loads(DEMO.read_text())["rows"][request.param]


def test_json_round_trip_is_exact(report_dict):
    typed = VerificationReport.from_dict(report_dict)
    assert typed.to_dict() == report_dict
    again = VerificationReport.from_json(typed.to_json())
    assert again == typed and again.to_dict() == report_dict


def test_records_carry_the_documents_values(report_dict):
    r = VerificationReport.from_dict(report_dict)
    assert isinstance(r.verdict, Verdict) and r.verdict == report_dict["verdict"]
    assert set(r.seats) == {"file", "answer"} and all(isinstance(s, SeatResult) for s in r.seats.values())
    for name, seat in r.seats.items():
        assert seat.kd.kd_gain_upper == report_dict["seats"][name]["figures"]["kd_gain_upper"]
        assert seat.gated == report_dict["seats"][name]["gated"]
    assert all(isinstance(c, Check) for c in r.checks)
    assert [c.label for c in r.checks] == [f"{c['name']}@{c['seat']}" if c.get("seat") else c["name"]
                                           for c in report_dict["checks"]]
    assert r.probes["kd"].queries == report_dict["attacks"]["kd"]["queries"]  # JSON "attacks" is `probes`
    file_panel = report_dict["attacks"]["kd"]["figures"]["seats"]["file"]
    assert r.kd_seats["file"].deciding_attacker == file_panel["deciding_attacker"]
    assert r.kd_seats["file"].students[file_panel["deciding_attacker"]].runs == file_panel["students"][file_panel["deciding_attacker"]]["runs"]


def test_unknown_keys_survive_and_absent_ones_are_not_invented(report_dict):
    d = copy.deepcopy(report_dict)
    d["from_a_newer_shieldkit"] = {"x": 1}
    d["seats"]["file"]["note"] = "kept"
    del d["matched_reference"]
    assert VerificationReport.from_dict(d).to_dict() == d


def test_outputs_read_the_typed_report(report_dict):
    """The same text from the JSON dict and from the records, and a changed figure changes it."""
    typed = VerificationReport.from_dict(report_dict)
    assert markdown_summary(report_dict) == markdown_summary(typed)
    assert junit_xml(report_dict) == junit_xml(typed)
    assert model_card(report_dict, None) == model_card(typed, None)
    changed = copy.deepcopy(report_dict)
    changed["seats"]["file"]["figures"]["kd_gain_upper"] = 42.125
    assert "+42.12" in markdown_summary(changed) and "+42.12" in model_card(changed, None)
    assert "+42.12" not in markdown_summary(report_dict)


def test_failed_checks_are_named_with_their_seat():
    c = Check(name="max_kd_gain", figure="kd_gain_upper", value=1.25, op="<=", threshold=0.5, passed=False,
              seat="file")
    assert c.label == "max_kd_gain@file"
    assert c.violation == "kd_gain_upper = 1.25 violates max_kd_gain@file (<= 0.5)"
    r = VerificationReport(checks=[c], verdict=Verdict.FAIL)
    assert r.failed_checks == [c] and str(r.verdict) == "FAIL" and f"{r.verdict}" == "FAIL"


def test_not_a_report_is_one_error(tmp_path):
    with pytest.raises(InputError, match="not a shieldkit verification report"):
        VerificationReport.from_json('{"schema": "something-else"}')
    (tmp_path / "bad.json").write_text("{broken")
    with pytest.raises(InputError, match="invalid JSON"):
        VerificationReport.from_json(tmp_path / "bad.json")


def test_the_typed_fields_cover_the_schemas_required_keys():
    from dataclasses import fields

    names = {VerificationReport.KEYS.get(f.name, f.name) for f in fields(VerificationReport)}
    assert set(REPORT_SCHEMA["required"]) <= names


def test_the_datafree_figures_are_typed():
    from shieldkit.verify.results import VerificationReport

    report = VerificationReport.from_dict({"schema": "shieldkit-verify-report", "attacks": {"datafree": {
        "settings": {}, "queries": 10, "seconds": 1.0,
        "figures": {"student_accuracy": 12.5, "mode": "black-box", "seat": "file", "iterations": 5,
                    "stopped": "completed", "history": [1, 2]}}}})
    df = report.datafree
    assert df.student_accuracy == 12.5 and df.mode == "black-box" and df.seat == "file"
    assert df.extra["history"] == [1, 2]  # what the record does not type is kept
    assert report.to_dict()["attacks"]["datafree"]["figures"]["history"] == [1, 2]

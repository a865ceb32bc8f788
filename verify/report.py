"""The verification report: its JSON schema, the checks that make a verdict, and a readable table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPORT_SCHEMA_VERSION = 1

_NUMBER_OR_NULL = {"type": ["number", "null"]}
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "shieldkit verification report",
    "type": "object",
    "required": ["schema", "schema_version", "shieldkit_version", "created", "artefact", "reference", "dataset",
                 "budget", "attacks", "figures", "thresholds", "checks", "verdict", "seconds"],
    "properties": {
        "schema": {"const": "shieldkit-verify-report"},
        "schema_version": {"const": REPORT_SCHEMA_VERSION},
        "shieldkit_version": {"type": "string"},
        "created": {"type": "string"},
        "artefact": {"type": "object", "required": ["kind", "sha256"],
                     "properties": {"kind": {"type": "string"}, "sha256": {"type": "object"},
                                    "signature": {"type": ["object", "null"]}}},
        "reference": {"type": ["object", "null"]},
        "dataset": {"type": "object", "required": ["name", "num_classes"]},
        "budget": {"type": "string"},
        "policy": {"type": ["string", "null"]},
        "attacks": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["settings", "figures", "queries", "seconds"],
                "properties": {"settings": {"type": "object"}, "figures": {"type": "object"},
                               "queries": {"type": "integer", "minimum": 0}, "seconds": {"type": "number"}},
            },
        },
        "figures": {"type": "object", "required": ["accuracy"],
                    "properties": {"accuracy": {"type": "number"}, "kd_gain": _NUMBER_OR_NULL}},
        "thresholds": {"type": "object", "additionalProperties": _NUMBER_OR_NULL},
        "checks": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "value", "op", "threshold", "passed"],
                      "properties": {"name": {"type": "string"}, "value": {"type": ["number", "null"]},
                                     "op": {"enum": ["<=", ">="]}, "threshold": {"type": "number"},
                                     "passed": {"type": "boolean"}}},
        },
        "verdict": {"enum": ["PASS", "FAIL", "INCONCLUSIVE"]},
        "inconclusive": {"type": "array", "items": {"type": "string"}},
        "skipped_checks": {"type": "object", "additionalProperties": {"type": "string"}},
        "seconds": {"type": "number"},
    },
}

# threshold name -> (figure it reads, comparison)
CHECKS = {
    "max_kd_gain": ("kd_gain_upper", "<="),  # the one-sided 95 % upper bound of the worst attacker's gain
    "max_datafree_accuracy": ("datafree_accuracy", "<="),
    "max_datafree_ratio": ("datafree_ratio", "<="),
    "max_accuracy_drop": ("accuracy_drop", "<="),
    "max_recorded_accuracy_drop": ("recorded_accuracy_drop", "<="),
    "min_accuracy": ("accuracy", ">="),
    "min_parity_agreement": ("parity_agreement", ">="),
    "min_fgsm": ("fgsm_accuracy", ">="),
    "min_pgd20": ("pgd20_accuracy", ">="),
    "min_cw": ("cw_accuracy", ">="),
    "min_autoattack": ("autoattack_accuracy", ">="),
    "min_square": ("square_accuracy", ">="),
}


def evaluate_checks(figures: dict, thresholds: dict) -> list[dict]:
    """One entry per threshold that is set: value, op, threshold, passed."""
    from shieldkit.errors import InputError

    checks = []
    for name, threshold in thresholds.items():
        if threshold is None:
            continue
        figure, op = CHECKS[name]
        value = figures.get(figure)
        if value is None:
            raise InputError(f"threshold {name} needs the figure {figure!r}, which this run did not measure")
        passed = value <= threshold if op == "<=" else value >= threshold
        checks.append({"name": name, "figure": figure, "value": float(value), "op": op, "threshold": float(threshold),
                       "passed": bool(passed)})
    return checks


def failed_lines(report: dict) -> list[str]:
    return [f"{c['figure']} = {c['value']:.4g} violates {c['name']} ({c['op']} {c['threshold']:g})"
            for c in report["checks"] if not c["passed"]]


def verdict_table(report: dict):
    """Two rich tables: the figures (model, and reference when there is one), then every check and the verdict."""
    from rich.console import Group
    from rich.table import Table

    f, ref = report["figures"], report["figures"].get("reference", {})
    has_ref = bool(ref)
    t = Table(title=f"shieldkit verify: {report['artefact'].get('path', report['artefact']['kind'])} "
                    f"on {report['dataset']['name']} ({report['budget']} budget)")
    t.add_column("figure")
    t.add_column("model", justify="right")
    if has_ref:
        t.add_column("reference", justify="right")

    def cell(v, fmt="{:.2f}"):
        return "-" if v is None else fmt.format(v)

    def row(name, model, reference=""):
        t.add_row(name, model, reference) if has_ref else t.add_row(name, model)

    row("test accuracy", cell(f.get("accuracy")), cell(ref.get("accuracy")))
    if f.get("recorded_accuracy") is not None:
        row(f"recorded accuracy ({f.get('recorded_accuracy_source', '')})", cell(f["recorded_accuracy"]))
    if "kd" in report["attacks"]:
        kd = report["attacks"]["kd"]["figures"]
        for name, s in kd["students"].items():
            row(f"  student {name}", cell(s["mean"]), cell(ref.get("kd_students", {}).get(name)))
        row("baseline student", f"{cell(kd['hard_label_accuracy'])} ({kd['baseline']})")
        row("KD gain, deciding attacker", f"{f['kd_gain']:+.2f} ({kd['best_kd']})",
            cell(ref.get("kd_gain"), "{:+.2f}") + (f" ({ref['kd_attacker']})" if "kd_attacker" in ref else ""))
        row("KD gain, 95% upper bound", f"{f['kd_gain_upper']:+.2f}", cell(ref.get("kd_gain_upper"), "{:+.2f}"))
        m = f.get("matched_reference")
        if m:
            row("matched reference: accuracy / KD gain", f"{m['accuracy']:.2f} / {m['kd_gain']:+.2f}")
    if "datafree" in report["attacks"]:
        df = report["attacks"]["datafree"]["figures"]
        row(f"data-free student ({df['mode']})", cell(df["student_accuracy"]), cell(ref.get("datafree_accuracy")))
    if "robustness" in report["attacks"]:
        for name, acc in report["attacks"]["robustness"]["figures"].items():
            if name != "clean":
                row(f"robust accuracy: {name}", cell(acc))
    for name in ("kd", "datafree", "robustness"):
        if name in report["attacks"]:
            a = report["attacks"][name]
            row(f"{name}: queries / seconds", f"{a['queries']} / {a['seconds']:.0f}")
    signature = report["artefact"].get("signature")
    if signature:
        row("signature", f"ok ({Path(str(signature['signed_by'])).name})")

    c_table = Table(title="checks")
    for col, justify in (("check", "left"), ("value", "right"), ("threshold", "right"), ("result", "left")):
        c_table.add_column(col, justify=justify)
    for c in report["checks"]:
        mark = "[green]pass[/]" if c["passed"] else "[bold red]FAIL[/]"
        value = f"{c['value']:.4f}" if "parity" in c["name"] else f"{c['value']:.2f}"
        c_table.add_row(c["name"], value, f"{c['op']} {c['threshold']:g}", mark)
    for name, reason in report.get("skipped_checks", {}).items():
        c_table.add_row(f"[dim]{name}[/]", "", "", f"[dim]skipped: {reason}[/]")
    for reason in report.get("inconclusive", []):
        c_table.add_row("[yellow]inconclusive[/]", "", "", reason)
    colour = {"PASS": "green", "FAIL": "bold red"}.get(report["verdict"], "yellow")
    c_table.add_row("[bold]verdict[/]", "", "", f"[{colour}]{report['verdict']}[/]")
    return Group(t, c_table)

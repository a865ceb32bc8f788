"""Rendering, in one place: the rich tables the commands print (the library returns data; the CLI draws it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table


def parity_table(manifest: dict) -> Table:
    """One row per checked graph: provider, images, max/mean |Δlogit|, top-1 agreement, accuracy."""
    parity = manifest["parity"]
    t = Table(title=f"ONNX Runtime parity ({parity['images']})")
    for col in ("graph", "provider", "max |Δlogit|", "mean |Δlogit|", "top-1 agreement", "accuracy (torch → onnx)"):
        t.add_column(col, justify="right" if col not in ("graph", "provider") else "left")
    rows = [("fp32", p, f) for p, f in parity["fp32"].items()]
    if "int8" in parity:
        rows.append((f"int8 ({parity['int8']['mode']})", parity["int8"]["provider"], parity["int8"]))
    for graph, provider, f in rows:
        acc = f"{f['reference_accuracy']:.2f} → {f['accuracy']:.2f}" if "accuracy" in f else "n/a (no labels)"
        t.add_row(graph, provider, f"{f['max_abs_diff']:.2e}", f"{f['mean_abs_diff']:.2e}",
                  f"{f['top1_agreement'] * 100:.2f}%", acc)
    return t


def _short(value, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def inspect_table(info: dict) -> Table:
    """Key/value table of an ``inspect_path`` result (nested values shown as compact JSON)."""
    t = Table(title=f"{info['kind']}: {info['path']}", show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value", overflow="fold")

    def add(prefix: str, value) -> None:
        if isinstance(value, dict) and value and prefix.count(".") < 1 and prefix not in ("settings",):
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else k, v)
        else:
            t.add_row(prefix, _short(value))

    for key, value in info.items():
        if key in ("kind", "path"):
            continue
        add(key, value)
    return t


def verdict_table(report: dict):
    """Two rich tables: the figures (model, and reference when there is one), then every check and the verdict."""
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


def robustness_table(report: dict) -> Table:
    """Robust accuracy and seconds per attack of an ``evaluate`` report."""
    t = Table(title=f"robust accuracy, l_inf eps={report['settings']['eps'] * 255:.1f}/255, n={report['n']} "
                    f"({report['target'].get('kind')})")
    t.add_column("attack")
    t.add_column("accuracy %", justify="right")
    t.add_column("seconds", justify="right")
    for name, acc in report["accuracy"].items():
        secs = report["seconds"].get(name)
        t.add_row(name, f"{acc:.2f}", "" if secs is None else f"{secs:.1f}")
    return t


def demo_table(result: dict[str, Any]):
    """A rich table: accuracy, baseline student, the deciding attacker, its KD gain (and 95 % upper bound) and
    the verdict per artefact."""
    any_row = next(iter(result["rows"].values()))
    settings = any_row["attacks"]["kd"]["settings"]
    t = Table(title=f"shieldkit verify on {result['dataset']['name']} through ONNX Runtime (students "
                    f"{', '.join(settings['families'])}, {len(settings['seeds'])} seeds; max KD gain "
                    f"{any_row['thresholds']['max_kd_gain']:+.1f} on the 95% upper bound)")
    for col in ("artefact", "accuracy", "baseline student", "deciding attacker", "KD gain (upper)", "verdict"):
        t.add_column(col, justify="right")
    for name, report in result["rows"].items():
        kd = report["attacks"]["kd"]["figures"]
        colour = {"PASS": "green", "FAIL": "red"}.get(report["verdict"], "yellow")
        t.add_row(name, f"{report['figures']['accuracy']:.2f}", f"{kd['hard_label_accuracy']:.2f}",
                  f"{kd['best_kd_accuracy']:.2f} ({kd['best_kd']})", f"{kd['kd_gain']:+.2f} ({kd['kd_gain_upper']:+.2f})",
                  f"[{colour}]{report['verdict']}[/]")
    return t

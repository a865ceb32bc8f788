"""Rendering, in one place: the rich tables the commands print (the library returns data; the CLI draws it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

from shieldkit.exporters.records import InspectResult, Manifest
from shieldkit.verify.results import VerificationReport, as_report


def parity_table(manifest: Manifest | dict) -> Table:
    """One row per checked graph: provider, images, max/mean |Δlogit|, top-1 agreement, accuracy."""
    parity = (manifest if isinstance(manifest, Manifest) else Manifest.from_dict(manifest)).parity
    t = Table(title=f"ONNX Runtime parity ({parity.images})")
    for col in ("graph", "provider", "max |Δlogit|", "mean |Δlogit|", "top-1 agreement", "accuracy (torch → onnx)"):
        t.add_column(col, justify="right" if col not in ("graph", "provider") else "left")
    rows = [("fp32", p, f) for p, f in parity.fp32.items()]
    if parity.int8 is not None:
        rows.append((f"int8 ({parity.int8.mode})", parity.int8.provider, parity.int8))
    for graph, provider, f in rows:
        acc = f"{f.reference_accuracy:.2f} → {f.accuracy:.2f}" if f.accuracy is not None else "n/a (no labels)"
        t.add_row(graph, provider, f"{f.max_abs_diff:.2e}", f"{f.mean_abs_diff:.2e}", f"{f.top1_agreement * 100:.2f}%",
                  acc)
    return t


def _short(value, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def inspect_table(result: InspectResult) -> Table:
    """Key/value table of an ``inspect_path`` result (nested values shown as compact JSON), its status first."""
    info = result.to_dict()
    t = Table(title=f"{result.kind}: {result.path}", show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value", overflow="fold")

    def add(prefix: str, value) -> None:
        if isinstance(value, dict) and value and prefix.count(".") < 1 and prefix not in ("settings",):
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else k, v)
        else:
            t.add_row(prefix, _short(value))

    t.add_row("status", str(result.status))
    for key, value in info.items():
        if key in ("kind", "path"):
            continue
        add(key, value)
    return t


def _cell(v, fmt="{:.2f}"):
    return "-" if v is None else fmt.format(v)


def seats_table(report: VerificationReport | dict) -> Table:
    """One row per seat: who sits there, what it reaches, the baseline, the deciding attacker, its gain (95 % upper
    bound), the seat's verdict and whether the policy gates it."""
    report = as_report(report)
    t = Table(title="seats: where the attacker sits (docs/verification.md)")
    for col in ("seat", "attacker", "reaches", "baseline", "deciding attacker", "KD gain (upper)", "verdict"):
        t.add_column(col, justify="right" if col in ("baseline", "KD gain (upper)") else "left",
                     overflow="fold")
    for name, seat in report.seats.items():
        f = seat.kd
        verdict = seat.verdict or "-"
        colour = {"PASS": "green", "FAIL": "bold red"}.get(verdict, "yellow")
        gated = "" if seat.gated else " [dim](not gated)[/]"
        t.add_row(name, seat.attacker, seat.reached,
                  f"{_cell(f.baseline_accuracy)} ({(f.baseline or '-').split('/')[-1]})" if f else "-",
                  (f.kd_attacker if f else None) or "-",
                  f"{f.kd_gain:+.2f} ({f.kd_gain_upper:+.2f})" if f else "-", f"[{colour}]{verdict}[/]{gated}")
    return t


def verdict_table(report: VerificationReport | dict):
    """Rich tables: the figures (model, and reference when there is one), the seats, every check and the verdict."""
    report = as_report(report)
    f, ref = report.figures, report.figures.reference
    has_ref = bool(ref)
    t = Table(title=f"shieldkit verify: {report.target} on {report.dataset['name']} ({report.budget} budget)")
    t.add_column("figure")
    probes = report.kd_seats
    seat_names = list(report.seats) if probes else []
    cols = [f"model, {n} seat" for n in seat_names] or ["model"]
    for col in cols:
        t.add_column(col, justify="right")
    if has_ref:
        t.add_column("reference (file seat)", justify="right")

    def row(name, *values, reference=""):
        values = list(values) + [""] * (len(cols) - len(values))
        t.add_row(name, *values, *([reference] if has_ref else []))

    row("test accuracy", _cell(f.accuracy), reference=_cell(ref.get("accuracy")))
    if f.recorded_accuracy is not None:
        row(f"recorded accuracy ({f.recorded_accuracy_source or ''})", _cell(f.recorded_accuracy))
    if seat_names:
        for name in probes[seat_names[0]].students:
            row(f"  student {name}", *[_cell(probes[s].students[name].mean) for s in seat_names],
                reference=_cell(ref.get("kd_students", {}).get(name)))
        seat_figs = [report.seats[s].figures for s in seat_names]
        row("baseline student", *[f"{_cell(x.baseline_accuracy)} ({x.baseline})" for x in seat_figs])
        row("KD gain, deciding attacker", *[f"{x.kd_gain:+.2f} ({x.kd_attacker})" for x in seat_figs],
            reference=_cell(ref.get("kd_gain"), "{:+.2f}") + (f" ({ref['kd_attacker']})" if "kd_attacker" in ref else ""))
        row("KD gain, 95% bounds", *[f"{x.kd_gain_lower:+.2f} .. {x.kd_gain_upper:+.2f}" for x in seat_figs],
            reference=(f"{ref['kd_gain_lower']:+.2f} .. {ref['kd_gain_upper']:+.2f}" if "kd_gain_lower" in ref else ""))
        if "detected" in ref:
            row("reference: best lower bound (power)", reference=f"{ref['detected']['lower95']:+.2f} "
                f"({ref['detected']['attacker']})")
        m = f.matched_reference
        if m:
            row("matched reference: accuracy / KD gain", f"{m['accuracy']:.2f} / {m['kd_gain']:+.2f}")
    df = report.datafree
    if df is not None:
        row(f"data-free student ({df.mode}, {df.seat or 'answer'} seat)", _cell(df.student_accuracy),
            reference=_cell(ref.get("datafree_accuracy")))
    if "robustness" in report.probes:
        for name, acc in report.probes["robustness"].figures.extra.items():
            if name != "clean":
                row(f"robust accuracy: {name}", _cell(acc))
    for name in ("kd", "datafree", "robustness"):
        if name in report.probes:
            a = report.probes[name]
            row(f"{name}: queries / seconds", f"{a.queries} / {a.seconds:.0f}")
    signature = report.artefact.get("signature")
    if signature:
        row("signature", f"ok ({Path(str(signature['signed_by'])).name})")

    c_table = Table(title="checks")
    for col, justify in (("check", "left"), ("value", "right"), ("threshold", "right"), ("result", "left")):
        c_table.add_column(col, justify=justify)
    for c in report.checks:
        mark = "[green]pass[/]" if c.passed else "[bold red]FAIL[/]"
        value = f"{c.value:.4f}" if "parity" in c.name else f"{c.value:.2f}"
        c_table.add_row(c.label, value, f"{c.op} {c.threshold:g}", mark)
    for name, reason in report.skipped_checks.items():
        c_table.add_row(f"[dim]{name}[/]", "", "", f"[dim]skipped: {reason}[/]")
    for reason in report.inconclusive:
        c_table.add_row("[yellow]inconclusive[/]", "", "", reason)
    if report.assumed:
        c_table.add_row("[yellow]assumed[/]", "", "", report.assumed)
    colour = {"PASS": "green", "FAIL": "bold red"}.get(report.verdict, "yellow")
    c_table.add_row("[bold]verdict[/]", "", "", f"[{colour}]{report.verdict}[/] (gated seats: "
                    f"{', '.join(report.gated_seats)})")
    tables = [t] + ([seats_table(report)] if seat_names else []) + [c_table]
    return Group(*tables)


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


def demo_rows(result: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """The demo's table as plain cells: (title, header, rows), one row per model and seat. The README quotes it
    (benchmarks/results/demo.json rendered by ``shieldkit demo --render``)."""
    any_row = next(iter(result["rows"].values()))
    settings = any_row["attacks"]["kd"]["settings"]
    title = (f"shieldkit verify on {result['dataset']['name']} through ONNX Runtime (students "
             f"{', '.join(settings['families'])}, {len(settings['seeds'])} seeds, baseline '{settings['baseline']}'; "
             f"max KD gain {any_row['thresholds']['max_kd_gain']:+.1f} on the 95% upper bound at each seat)")
    head = ["model", "accuracy", "seat", "baseline student", "deciding attacker", "KD gain (upper)", "seat verdict",
            "verdict"]
    rows = []
    for name, row in result["rows"].items():
        report = as_report(row)
        for seat in ("file", "answer"):
            s, p = report.seats[seat], report.kd_seats[seat]
            f = s.figures
            rows.append([name, f"{report.figures.accuracy:.2f}", seat, f"{f.baseline_accuracy:.2f}",
                         f"{p.best_kd_accuracy:.2f} ({f.kd_attacker.split('/')[-1]})",
                         f"{f.kd_gain:+.2f} ({f.kd_gain_upper:+.2f})", str(s.verdict or "-"),
                         str(report.verdict) if seat == "file" else ""])
    return title, head, rows


def demo_markdown(result: dict[str, Any]) -> str:
    """:func:`demo_rows` as a Markdown table with its title (what the README quotes from
    benchmarks/results/demo.json; ``shieldkit demo --render demo.json`` prints it)."""
    title, head, rows = demo_rows(result)
    lines = [f"*{title}*", "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def demo_table(result: dict[str, Any]):
    """A rich table of :func:`demo_rows`: per model and seat, accuracy, baseline student, the deciding attacker, its
    KD gain (and 95 % upper bound), the seat's verdict, and the model's verdict."""
    title, head, rows = demo_rows(result)
    t = Table(title=title)
    for col in head:
        t.add_column(col, justify="right")
    for r in rows:
        colour = {"PASS": "green", "FAIL": "red"}.get(r[6], "yellow")
        t.add_row(*r[:6], f"[{colour}]{r[6]}[/]", r[7])
    return t

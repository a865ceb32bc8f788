"""What a release pipeline shows: a Markdown summary, a JUnit test report, a plot, a model card.

Each is a pure function of the verification report (and, for the model card, the artefact's manifest), so
the figures they show are the report's. :func:`write_outputs` writes the ones asked for, atomically, and
appends the summary to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from shieldkit.errors import InputError
from shieldkit.utils import atomic_path

from .results import VerificationReport, Verdict, as_report


def _fmt(value: Any, digits: int = 2) -> str:
    return "-" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def _seat_lines(report: VerificationReport) -> list[str]:
    """The seats side by side (Markdown rows), one sentence per seat on who the attacker is."""
    lines = ["| seat | attacker | reaches | baseline | deciding attacker | KD gain (95 % upper) | verdict |",
             "|---|---|---|---|---|---|---|"]
    for name, seat in report.seats.items():
        f = seat.kd
        gain = f"{f.kd_gain:+.2f} ({f.kd_gain_upper:+.2f})" if f else "-"
        base = f"{_fmt(f.baseline_accuracy)} % (`{f.baseline or '-'}`)" if f else "-"
        lines.append(f"| {name}{'' if seat.gated else ' (not gated)'} | {seat.attacker} | {seat.reached} | "
                     f"{base} | `{(f.kd_attacker if f else None) or '-'}` | {gain} | {seat.verdict or '-'} |")
    return lines


def markdown_summary(report: VerificationReport | dict, plot: str | None = None) -> str:
    """The verdict, the seats side by side, the checks (value, threshold, pass/FAIL), the probe's power and what
    was skipped or assumed."""
    report = as_report(report)
    f = report.figures
    icon = {"PASS": "✅", "FAIL": "❌"}.get(report.verdict, "⚠️")
    lines = [f"## shieldkit verify: {icon} {report.verdict}", "",
             f"Artefact `{report.target}` on {report.dataset['name']} "
             f"({report.budget} budget, shieldkit {report.shieldkit_version}; gated seats: "
             f"{', '.join(report.gated_seats)}).", ""]
    if "kd" in report.probes:
        lines += _seat_lines(report) + [""]
    lines += ["| check | figure | value | threshold | result |", "|---|---|---|---|---|"]
    for c in report.checks:
        lines.append(f"| `{c.label}` | {c.figure} | {_fmt(c.value)} | {c.op} {c.threshold:g} | "
                     f"{'pass' if c.passed else '**FAIL**'} |")
    for name, reason in report.skipped_checks.items():
        lines.append(f"| `{name}` | - | - | - | skipped: {reason} |")
    lines += ["", f"- test accuracy: {_fmt(f.accuracy)} %"]
    if f.recorded_accuracy is not None:
        lines.append(f"- recorded accuracy: {_fmt(f.recorded_accuracy)} % ({f.recorded_accuracy_source})")
    if report.power:
        for key, r in report.power.references.items():
            lines.append(f"- probe power: the {key.replace('_', ' ')}'s best attacker `{r.attacker}` gains "
                         f"{r.gain:+.2f} (95 % lower bound {r.lower95:+.2f}, margin {report.power.margin:g}): "
                         f"{'shown' if r.shown else '**not shown**'}")
    if f.datafree_accuracy is not None:
        lines.append(f"- data-free KD student: {_fmt(f.datafree_accuracy)} %")
    for reason in report.inconclusive:
        lines.append(f"- inconclusive: {reason}")
    if report.assumed:
        lines.append(f"- assumed: {report.assumed}")
    if plot:
        lines += ["", f"![student accuracy per attacker]({plot})"]
    return "\n".join(lines) + "\n"


def junit_xml(report: VerificationReport | dict) -> str:
    """One test case per check (a failure names the violated threshold and its seat), one per skipped check
    (skipped), and one for the verdict (INCONCLUSIVE is a failure: a release gate must not pass it); the suite's
    properties say which attacker each seat stands for."""
    report = as_report(report)
    cases = []
    for c in report.checks:
        case = ET.Element("testcase", classname="shieldkit.verify", name=c.label)
        if not c.passed:
            ET.SubElement(case, "failure", message=c.violation, type="threshold")
        cases.append(case)
    for name, reason in report.skipped_checks.items():
        case = ET.Element("testcase", classname="shieldkit.verify", name=name)
        ET.SubElement(case, "skipped", message=reason)
        cases.append(case)
    verdict = ET.Element("testcase", classname="shieldkit.verify", name="verdict")
    if report.verdict != Verdict.PASS:
        ET.SubElement(verdict, "failure", message=f"verdict {report.verdict}: " + "; ".join(report.inconclusive),
                      type=report.verdict.value.lower())
    cases.append(verdict)
    suite = ET.Element("testsuite", name="shieldkit verify", tests=str(len(cases)),
                       failures=str(sum(1 for c in cases if c.find("failure") is not None)),
                       skipped=str(sum(1 for c in cases if c.find("skipped") is not None)), errors="0",
                       time=f"{report.seconds:.1f}")
    if report.seats:  # which attacker each seat stands for, and whether the verdict gates it
        props = ET.SubElement(suite, "properties")
        for name, seat in report.seats.items():
            ET.SubElement(props, "property", name=f"seat.{name}",
                          value=f"{seat.attacker}; reaches {seat.reached}; "
                                f"{'gated' if seat.gated else 'not gated'}; verdict {seat.verdict or '-'}")
        if report.assumed:
            ET.SubElement(props, "property", name="assumed", value=report.assumed)
    suite.extend(cases)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def require_matplotlib() -> None:
    """``--plot`` needs matplotlib; say so before any work."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'shieldkit[plot]' (or pip install matplotlib)") from None


def plot_students(report: VerificationReport | dict, path: str | Path) -> Path:
    """A PNG: mean student accuracy per attacker (seeds as dots), the hard-label baseline as a line, the
    deciding attacker highlighted. Needs matplotlib (``pip install 'shieldkit[plot]'``)."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = as_report(report)
    probes = report.kd_seats
    if not probes:
        raise InputError("--plot shows the KD probe's students; this run has no kd probe")
    names = list(probes["file"].students)
    fig, axes = plt.subplots(1, 2, figsize=(2 * max(5, 0.4 * len(names)), 4), sharey=True)
    everything = [r for p in probes.values() for s in p.students.values() for r in s.runs]
    for ax, seat in zip(axes, ("file", "answer")):
        kd = probes[seat]
        for i, name in enumerate(names):
            s = kd.students[name]
            ax.bar(i, s.mean, color="tab:red" if name == kd.deciding_attacker else "tab:blue", alpha=0.6)
            ax.plot([i] * len(s.runs), s.runs, "k.", ms=4)
        ax.axhline(kd.hard_label_accuracy, color="k", ls="--", lw=1,
                   label=f"baseline {kd.hard_label_accuracy:.2f} %")
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        verdict = report.seats[seat].verdict or "-"
        ax.set_title(f"{seat} seat, {verdict}: {kd.deciding_attacker} ({kd.kd_gain:+.2f}, upper "
                     f"{kd.kd_gain_upper:+.2f})", fontsize=8)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("student test accuracy (%)")
    axes[0].set_ylim(max(0, min(everything) - 5), min(100, max(everything) + 3))
    fig.suptitle(f"shieldkit verify: {report.verdict}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def card_metadata(report: VerificationReport | dict, manifest: dict | None) -> dict:
    """The model card's front matter, as model hubs read it (Hugging Face's ``library_name``, ``tags``,
    ``datasets``, ``metrics`` and ``model-index``): the test accuracy and, per seat, the worst attacker's KD gain and
    its 95 % upper bound, each named with how it was measured."""
    report = as_report(report)
    f, m = report.figures, manifest or {}
    arch = (m.get("model") or {}).get("arch") or "model"
    data = report.dataset["name"]
    metrics = [{"type": "accuracy", "value": round(float(f.accuracy), 2),
                "name": f"test accuracy through {report.artefact.get('kind')}"}] if f.accuracy is not None else []
    for seat, s in report.seats.items():
        kd = s.kd
        if kd is None:
            continue
        metrics.append({"type": "kd_gain", "value": round(float(kd.kd_gain), 2),
                        "name": f"KD gain beyond {kd.baseline} at the {seat} seat, points (worst attacker "
                                f"{kd.kd_attacker}; 95 % upper {kd.kd_gain_upper:+.2f}; {s.verdict or '-'})"})
    tags = ["image-classification", "onnx", "shieldkit", "anti-distillation", f"verify-{report.verdict.value.lower()}"]
    return {"library_name": "shieldkit", "tags": tags, "datasets": [data], "metrics": ["accuracy"],
            "model-index": [{"name": arch, "results": [{
                "task": {"type": "image-classification", "name": "Image Classification"},
                "dataset": {"type": data, "name": data, "split": "test"}, "metrics": metrics}]}]}


def front_matter(meta: dict) -> str:
    """``meta`` as a YAML front-matter block (``---`` … ``---``). Every scalar is written as JSON, which YAML reads as
    the same value, so no YAML library is needed to write it."""
    def emit(value, indent: int) -> list[str]:
        pad = " " * indent
        if isinstance(value, dict):
            out = []
            for k, v in value.items():
                if isinstance(v, (dict, list)) and v:
                    out += [f"{pad}{k}:", *emit(v, indent + 2)]
                else:
                    out.append(f"{pad}{k}: {json.dumps(v, ensure_ascii=False)}")
            return out
        out = []
        for v in value:
            if isinstance(v, (dict, list)) and v:
                first, *rest = emit(v, indent + 2)
                out += [f"{pad}- {first.strip()}", *rest]
            else:
                out.append(f"{pad}- {json.dumps(v, ensure_ascii=False)}")
        return out

    return "\n".join(["---", *emit(meta, 0), "---"])


def model_card(report: VerificationReport | dict, manifest: dict | None) -> str:
    """MODEL_CARD.md: YAML front matter for model hubs (:func:`card_metadata`), then what the model is, its accuracy,
    its protection and robustness figures with the attacks and budgets behind them, the threat model (both seats),
    and what was not tested. Every figure is copied from ``report``."""
    report = as_report(report)
    f, m = report.figures, manifest or {}
    model = m.get("model") or {}
    prov = m.get("provenance") or {}
    settings = prov.get("settings") or {}
    method = settings.get("method") or {}
    how = (f" with method `{method.get('method')}`" if method.get("method") else "") + \
        (f" (recipe `{method['recipe']}`)" if method.get("recipe") else "")
    lines = [front_matter(card_metadata(report, manifest)), "",
             f"# Model card: {model.get('arch', report.artefact.get('path', 'model'))}", "",
             "## What it is",
             f"- architecture `{model.get('arch', '?')}`, {model.get('num_classes', report.dataset.get('num_classes'))} "
             f"classes, input {m.get('input', {}).get('shape', report.dataset.get('input_shape'))} "
             f"({m.get('input', {}).get('dtype', 'float32')}, values {m.get('input', {}).get('value_range', [0, 1])})",
             f"- produced by `shieldkit {settings.get('command', '?')}`{how}",
             "- files: " + ", ".join(f"`{k}` (sha256 {v['sha256'][:16]}…)" for k, v in (m.get("files") or {}).items()),
             "", "## Accuracy",
             f"- test accuracy on {report.dataset['name']} ({report.dataset.get('test')} images): "
             f"{_fmt(f.accuracy)} % (measured by this verification, through "
             f"{report.artefact.get('kind')})"]
    signature = report.artefact.get("signature")
    lines.insert(lines.index("## Accuracy") - 1,
                 f"- signature: verified before the attacks with the key of sha256 {signature['key_sha256'][:16]}… "
                 f"(`{signature['signed_by']}`)" if signature else
                 "- signature: not checked by this verification (pass `--public-key`)")
    if f.recorded_accuracy is not None:
        lines.append(f"- recorded before: {_fmt(f.recorded_accuracy)} % ({f.recorded_accuracy_source}); "
                     f"drop {f.recorded_accuracy_drop:+.2f} points")
    lines += ["", "## Protection against distillation"]
    if "kd" in report.probes:
        kd_run = report.probes["kd"]
        st = kd_run.settings
        lines += [f"- attackers: student families {', '.join(st['families'])}, {st['epochs']} epochs, seeds "
                  f"{st['seeds']}, on {100 * st['attacker_fraction']:.0f} % of the training split (queries to the "
                  f"model: {kd_run.queries}); a gain is measured beyond the best student of the "
                  f"baseline set `{st['baseline']}`"]
        for name, seat in report.seats.items():
            kd = seat.kd
            if kd is None:
                continue
            lines.append(f"- **{name} seat** ({seat.attacker}; reaches {seat.reached}"
                         f"{'' if seat.gated else '; not gated'}): strongest attacker `{kd.kd_attacker}`, gain "
                         f"{kd.kd_gain:+.2f} points over `{kd.baseline}` ({_fmt(kd.baseline_accuracy)} %), "
                         f"95 % upper bound {kd.kd_gain_upper:+.2f}: {seat.verdict or '-'}")
        if report.power:
            for key, r in report.power.references.items():
                lines.append(f"- probe power: the {key.replace('_', ' ')} (unprotected) gains {r.gain:+.2f} with "
                             f"`{r.attacker}` (95 % lower bound {r.lower95:+.2f} vs margin {report.power.margin:g}): "
                             f"{'shown' if r.shown else 'not shown'}")
    else:
        lines.append("- not tested (no kd probe in this verification)")
    if "datafree" in report.probes:
        lines.append(f"- data-free KD student: {_fmt(f.datafree_accuracy)} %")
    lines += ["", "## Robustness"]
    if "robustness" in report.probes:
        rob = report.probes["robustness"]
        lines += [f"- {name}: {_fmt(acc)} %" for name, acc in rob.figures.extra.items()]
        lines.append(f"- settings: {rob.settings}")
    else:
        lines.append("- not tested (no robustness probe in this verification)")
    lines += ["", "## Verdict", f"**{report.verdict}** under these thresholds:"]
    lines += [f"- `{c.label}`: {c.figure} = {_fmt(c.value)} {c.op} {c.threshold:g}: "
              f"{'pass' if c.passed else 'FAIL'}" for c in report.checks]
    lines += [f"- `{n}` skipped: {r}" for n, r in report.skipped_checks.items()]
    lines += ["", "## Threat model and what was not tested",
              "- Two seats. The answer seat queries the model as shipped and trains a student from its answers. The "
              "file seat holds the artefact's files, as anyone holding a device it ships to does: it cuts the graph "
              "below any output head and trains from the raw logits. The verdict holds for the attackers listed "
              "above at the gated seats, not for stronger ones.",
              *([f"- Assumed: {report.assumed}."] if report.assumed else []),
              "- Not tested here: " + ", ".join(a for a in ("kd", "datafree", "robustness") if a not in report.probes)
              + (" (none)" if all(a in report.probes for a in ("kd", "datafree", "robustness")) else "")
              + "; model extraction with more queries or data than this budget; other input preprocessing.",
              f"- Report created {report.created} by shieldkit {report.shieldkit_version}."]
    return "\n".join(lines) + "\n"


def write_text(text: str, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_outputs(report: VerificationReport | dict, *, summary=None, junit=None, plot=None, model_card_path=None,
                  manifest: dict | None = None) -> list[Path]:
    """Write the outputs asked for (atomically); the summary also goes to ``$GITHUB_STEP_SUMMARY`` when set."""
    report = as_report(report)
    written = []
    if plot is not None:
        written.append(plot_students(report, plot))
    text = markdown_summary(report, plot=Path(plot).name if plot is not None else None)
    if summary is not None:
        written.append(write_text(text, summary))
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as fh:
            fh.write(text)
    if junit is not None:
        written.append(write_text(junit_xml(report), junit))
    if model_card_path is not None:
        written.append(write_text(model_card(report, manifest), model_card_path))
    return written

"""The documents' measured tables, rendered from the committed JSON they come from (so they cannot go stale).

Each marked section of the documents (:data:`DOCUMENTS`: README.md, docs/, benchmarks/README.md), ``<!-- render:NAME -->`` ... ``<!-- /render:NAME -->``, is the output of one
renderer below applied to one file under ``benchmarks/results/``:

- ``seats``: the threat-model table of the first screen, from ``seats_cifar10.json`` (benchmarks/seats_cifar10.py);
- ``quick_time``: the quick budget's measured time, from ``seats_cifar10.json``;
- ``harden``: ARD against its baselines at full data and on subsets, from ``harden_cifar10_full.json``;
- ``demo``: the demo's table, from ``demo.json`` (``shieldkit demo --out-dir DIR``, then copy DIR/demo.json;
  the same as ``shieldkit demo --render benchmarks/results/demo.json``).

    python benchmarks/render.py           # rewrite the marked sections
    python benchmarks/render.py --check   # exit 1 when the README and the JSON disagree (tests/test_render.py)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, markdown_table  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def seats_markdown(result: dict) -> str:
    """Seat | attacker | what the default protect artefact gives away there, against the unprotected original."""
    models = result["models"]
    p, o = models["protected"], models["original"]
    drop = o["accuracy"] - p["accuracy"]

    def gain(m, seat):
        s = m["seats"][seat]
        return f"{s['kd_gain']:+.2f} (≤ {s['kd_gain_upper']:+.2f}), {s['verdict']}"

    rows = [
        ("answer", "a client of the graph as shipped: sees its answers, nothing more",
         "the `decision` head: the decision at a fixed confidence, nothing else", gain(p, "answer"),
         gain(o, "answer")),
        ("file", "whoever holds `model.onnx` (any device it ships to): cuts the graph below the head",
         "only the fine-tuned weights (default `uniform` recipe)", gain(p, "file"), gain(o, "file")),
    ]
    lines = [f"Measured on CIFAR-10 ({result['recipe']['original']}: {o['accuracy']:.2f} %; `protect` with every "
             f"default: {p['accuracy']:.2f} %, drop {drop:+.2f} points), `verify --budget {result['budget']}` with the "
             f"default policy and the original as reference, through ONNX Runtime "
             f"([`{Path(result['json']).name}`](benchmarks/results/{Path(result['json']).name}), "
             f"`{result['command']}`). KD gain: worst attacker's points beyond the students of the labels and of the "
             f"model's own decisions, mean (95 % upper bound) over 3 student seeds, and the seat's verdict:", "",
             markdown_table(["seat", "attacker", "what protects it by default", "default `protect` artefact",
                             "unprotected original"], rows)]
    return "\n".join(lines)


def demo_markdown(result: dict) -> str:
    from shieldkit.cli.tables import demo_markdown as render

    return (render(result) + f"\n\n({result['command']}, {result['seconds']:.0f} s on this machine, "
            f"{result['environment']['threads']} threads: benchmarks/results/demo.json)")


def quick_time_markdown(result: dict) -> str:
    """The quick budget's measured wall time on this machine, part by part (verify --help quotes the rounded
    figure, shieldkit.verify.budgets.QUICK_TIME, checked against the same JSON)."""
    m = result["models"]["protected"]
    parts = m["kd_seconds_by_part"]
    return (f"Time of `quick` on CIFAR-10, 2 CPU cores, for the default protected artefact (a head, so both seats are "
            f"probed): {m['kd_seconds_without_references']:.0f} s for its own probe (label-only students "
            f"{parts['baselines']:.0f} s, answer seat {parts['answer']:.0f} s, file seat {parts['file']:.0f} s, "
            f"{m['students_reused']} students reused between seats and runs), {parts['references']:.0f} s more for "
            f"its reference, {m['verify_seconds']:.0f} s for the whole run "
            f"(`benchmarks/results/seats_cifar10.json`). The target was 8 minutes for one artefact with both seats: "
            f"{'met' if m['kd_seconds_without_references'] <= 480 else 'missed'}.")


def margins_markdown(result: dict) -> str:
    """The suite's thresholds against the spread measured over seeds (docs/testing.md)."""
    rows = [[r["quantity"], r["test"], r["must_be"], f"{r['min']:.2f}", f"{r['max']:.2f}", f"{r['std']:.2f}",
             f"{r['margin_in_std']:.1f}"] for r in result["rows"]]
    return (f"Margins behind the suite's thresholds, {len(result['seeds'])} training seeds on this 2-core machine "
            f"(`{result['command']}`, {result['seconds'] / 60:.1f} min; `benchmarks/results/test_margins.json`). "
            f"Points are % of the test images named in the test:\n\n"
            + markdown_table(["quantity", "used by", "must be", "min", "max", "std", "margin / std"], rows))


def throughput_markdown(result: dict) -> str:
    """The throughput table, and the precision ratios the default follows (benchmarks/README.md)."""
    res, env = result["results"], result["environment"]
    lines = [f"`python benchmarks/throughput.py` on {env['threads']} threads ({env['machine']}, torch {env['torch']}, "
             f"native bf16: {'yes' if env.get('native_bf16') else 'no'}, so `--precision auto` is "
             f"{env.get('auto_precision')}); `benchmarks/results/throughput.json`:", "", result["table"], ""]
    for group, rows in res.items():
        if group.startswith("precision:"):
            arch = group.split(":", 1)[1]
            best_eager = rows["bf16 + channels_last"]["images_per_s"] / rows["fp32 + channels_last"]["images_per_s"]
            lines.append(f"- {arch}: bf16 + channels_last trains {best_eager:.2f}× as fast as fp32 + channels_last "
                         f"(the fp32 default before), {rows['bf16 + channels_last']['images_per_s'] / rows['fp32']['images_per_s']:.2f}× "
                         f"plain fp32.")
    inf = res.get("inference", {})
    if "onnxruntime cpu" in inf:
        lines.append(f"- ONNX Runtime fp32 at batch 64: {inf['onnxruntime cpu']['speedup']:.2f}× torch eager "
                     f"(target ≥ 2×: {'met' if inf['onnxruntime cpu']['speedup'] >= 2 else 'not met'}).")
    if "ort_int8" in res:
        q = res["ort_int8"]
        lines.append("- ONNX Runtime int8 on ResNet-20, speed relative to its fp32 graph: " + ", ".join(
            f"{k} {r['images_per_s'] / q['fp32']['images_per_s']:.2f}×" for k, r in q.items() if k != "fp32") + ".")
    if result.get("profile"):
        p = result["profile"]
        lines.append(f"- {p['arch']}, one bf16 + channels_last step, self CPU time: " +
                     ", ".join(f"{op['name']} {100 * op['share']:.0f} %" for op in p["ops"][:5]) + ".")
    return "\n".join(lines)


def teachers_markdown(result: dict) -> str:
    """The teacher zoo: recipe, accuracy against its target, precision and wall time (benchmarks/README.md)."""
    rows, robust = [], []
    for name, r in result["teachers"].items():
        rec = r["recipe"]
        adversarial = (f"; {rec['adversarial']} ε {255 * rec['eps']:.0f}/255, {rec['steps']} step(s) of "
                       f"{255 * rec['step_size']:.0f}/255" if rec.get("adversarial") else "")
        median = r.get("median_epoch_seconds")
        rows.append([f"`{name}`", rec["data"], rec["arch"], f"{r['epochs']} ep, lr {rec['lr']:g} {rec['schedule']}, "
                     f"batch {rec['batch_size']}, seed {rec['seed']}{adversarial}", r["precision"],
                     f"{r['test_accuracy']:.2f}", f"≥ {r['target_accuracy']:g}: {'met' if r['met'] else 'NOT met'}",
                     f"{r['train_seconds'] / 60:.1f} min" + (f" ({median:.0f} s median epoch)" if median else "")])
        if r.get("robustness"):
            rb = r["robustness"]
            robust.append([f"`{name}`", *(f"{rb['accuracy'][a]:.1f}" for a in rb["settings"]["attacks"]), str(rb["n"]),
                           f"{sum(rb['seconds'].values()) / 60:.0f} min"])
    text = (f"`{result['command']}` on {result['environment']['threads']} threads "
            f"(`benchmarks/results/teachers.json`; weights cached outside the repository):\n\n"
            + markdown_table(["teacher", "data", "arch", "recipe", "precision", "test acc %", "target", "train time"],
                             rows))
    if robust:
        attacks = next(r["robustness"]["settings"]["attacks"] for r in result["teachers"].values() if r.get("robustness"))
        names = {"clean": "clean %", "pgd20": "PGD-20 %", "cw": "CW∞ %", "autoattack": "AutoAttack (standard) %"}
        text += ("\n\nRobust teachers, ℓ∞ ε = 8/255, on the same stratified test images:\n\n"
                 + markdown_table(["teacher", *(names.get(a, a) for a in attacks), "n", "evaluation time"], robust))
    return text


def cifar100_markdown(result: dict) -> str:
    """The design card's first command on real CIFAR-100, then export and verify (benchmarks/README.md)."""
    rows = [[seat, f"`{s['baseline']}` {s['baseline_accuracy']:.2f} %", f"{s['kd_gain']:+.2f} (≤ {s['kd_gain_upper']:+.2f})",
             f"`{s['kd_attacker']}`", s["verdict"]] for seat, s in result["seats"].items()]
    ref = next(iter((result.get("power") or {}).get("references", {}).values()), None)
    t = result["times"]
    return (f"Teacher {result['original_accuracy']:.2f} %, protected (every `protect` default) "
            f"{result['protected_accuracy']:.2f} %, drop {result['accuracy_drop']:+.2f} points; the protected "
            f"artefact scores {result['artefact_accuracy']:.2f} % through ONNX Runtime. `verify --budget "
            f"{result['budget']}` with the teacher's artefact as reference: **{result['verdict']}** (exit "
            f"{result['verify_exit_code']}). Times: protect {t['protect']['seconds'] / 60:.1f} min, verify "
            f"{t['verify']['seconds'] / 60:.1f} min (`{result['command']}`, "
            f"`benchmarks/results/cifar100_pipeline.json`)."
            + (f" The reference's best attacker (`{ref['attacker']}`, {ref['seat']} seat) gains {ref['gain']:+.2f} "
               f"(95 % lower {ref['lower95']:+.2f}): the probe's power is {'shown' if ref['shown'] else 'not shown'}."
               if ref else "") + "\n\n"
            + markdown_table(["seat", "best baseline student", "KD gain beyond decisions (95 % upper)",
                              "deciding attacker", "seat verdict"], rows))


def precision_effect_markdown(result: dict) -> str:
    """fp32 against bf16, same seeds: the teacher's accuracy and time, the probe's per-seat gains and time."""
    t, p = result["teacher"], result["probe"]
    rows = [[f"teacher, {k}", f"{t[k]['test_accuracy']:.2f} %", "", f"{t[k]['train_seconds']:.0f} s"]
            for k in ("fp32", "bf16")]
    for k in ("fp32", "bf16"):
        seats = p[k]["seats"]
        rows.append([f"probe students, {k}",
                     "; ".join(f"{seat} {s['kd_gain']:+.2f} (≤ {s['kd_gain_upper']:+.2f}) `{s['kd_attacker']}` "
                               f"{s['verdict']}" for seat, s in seats.items()), p[k]["verdict"],
                     f"{p[k]['kd_seconds']:.0f} s (verify {p[k]['verify_seconds']:.0f} s)"])
    diffs = []
    for seat, students in p["bf16"]["students"].items():
        base = p["fp32"]["students"].get(seat, {})
        d = [abs(v - base[n]) for n, v in students.items() if n in base]
        if d:
            diffs.append(f"{seat} seat: mean |Δ| {sum(d) / len(d):.2f}, max {max(d):.2f} points over {len(d)} students")
    return (f"`{result['command']}` (`benchmarks/results/precision_effect.json`); {t['recipe']}; {p['setting']}:\n\n"
            + markdown_table(["run", "figure", "verdict", "time"], rows)
            + "\n\nStudent accuracies, bf16 against fp32 (means over the seeds): " + "; ".join(diffs) + ".")

# published ResNet-18 students on CIFAR-10 at ε = 8/255 (clean / PGD-20 / AutoAttack), as quoted in later papers:
# other teachers (WRN-34-10), 100+ epochs on GPUs; anchors for the direction, not for the level (issue 25)
HARDEN_ANCHORS = (("ARD (Goldblum)", 85.04, 53.27, 49.49), ("RSLAD", 83.59, 55.98, 52.13),
                  ("AdaAD", 84.74, 56.78, 52.79))
HARDEN_METHODS = ("at", "ard-goldblum", "rslad", "ard")


def harden_markdown(result: dict) -> str:
    """ARD against its baselines at full data (AutoAttack, black-box) and on 10 % / 1 % of it (seeds), with the
    answer to "does ARD beat RSLAD at equal budget?" and its uncertainty (benchmarks/harden_cifar10.py)."""
    import math

    from common import seed_summary

    res = result["results"]
    full = {m: res[f"{m}_f1"] for m in HARDEN_METHODS if f"{m}_f1" in res}
    limited = res.get("limited_data", {})
    fractions = sorted({e["fraction"] for e in limited.values()}, reverse=True)
    head = ["method", "clean", "PGD-20", "AA", "Square", "transfer"] + \
        [f"PGD-20 at {100 * f:g} % ({len(limited[f'ard_f{f:g}']['runs'])} seeds)" for f in fractions]
    rows = []
    for m, r in full.items():
        a, bb = r["eval"]["accuracy"], r.get("blackbox", {}).get("accuracy", {})
        row = [m, f"{a['clean']:.1f}", f"{a['pgd20']:.1f}", f"{r['eval']['autoattack']['accuracy']:.1f}",
               f"{bb['square']:.1f}" if bb else "-", f"{bb['transfer']:.1f}" if bb else "-"]
        for f in fractions:
            sm = limited[f"{m}_f{f:g}"]["summary"]["pgd20"]
            row.append(f"{sm['mean']:.1f} ± {sm['std']:.1f}")
        rows.append(row)
    ard, rslad = full["ard"]["eval"], full["rslad"]["eval"]
    n = ard["autoattack"]["n"]
    pa, pr = ard["autoattack"]["accuracy"] / 100, rslad["autoattack"]["accuracy"] / 100
    diff, se = 100 * (pa - pr), 100 * math.sqrt((pa * (1 - pa) + pr * (1 - pr)) / n)
    verdict = "beats" if diff > 2 * se else "falls below" if diff < -2 * se else "is not separated from"
    parts = [f"At full data (one seed, n = {n} test images), ARD **{verdict}** RSLAD under standard AutoAttack: "
             f"{diff:+.1f} points (two binomial standard errors, unpaired and so conservative: ±{2 * se:.1f}), clean {ard['accuracy']['clean'] - rslad['accuracy']['clean']:+.1f}."]
    for f in fractions:
        runs_a, runs_r = limited[f"ard_f{f:g}"]["runs"], limited[f"rslad_f{f:g}"]["runs"]
        d, c = (seed_summary([runs_a[k][a] - runs_r[k][a] for k in sorted(runs_a) if k in runs_r])
                for a in ("pgd20", "clean"))
        word = "ARD above RSLAD" if d["lower95"] > 0 else "ARD below RSLAD" if d["upper95"] < 0 else "not separated"
        parts.append(f"On {100 * f:g} % of the data, ARD − RSLAD paired per seed ({len(d['runs'])} seeds): PGD-20 "
                     f"{d['mean']:+.1f} ± {d['std']:.1f} (one-sided 95 % bounds {d['lower95']:+.1f} and "
                     f"{d['upper95']:+.1f}: {word}), clean {c['mean']:+.1f} ± {c['std']:.1f}.")
    s = result["settings"]
    subset_epochs = ", ".join(f"{limited[f'ard_f{f:g}']['epochs']} on {100 * f:g} %" for f in fractions)
    setting = (f"ResNet-8 students of the zoo's robust ResNet-20 (`{Path(s['teacher']).stem}`), every method at one "
               f"budget ({s['epochs']} epochs at full data, "
               f"{subset_epochs}; PGD-"
               f"{s['attack_steps']} in training, ε = 8/255); Square {s['square_queries']} queries; transfer: PGD-20 "
               f"crafted on a separately trained ResNet-8 PGD-AT. Robust accuracy %, `{result['json']}`.")
    anchors = markdown_table(["published (ResNet-18, WRN teacher, GPUs)", "clean", "PGD-20", "AA"],
                             [[name, f"{c:.2f}", f"{g:.2f}", f"{a:.2f}"] for name, c, g, a in HARDEN_ANCHORS])
    return setting + "\n\n" + markdown_table(head, rows) + "\n\n" + " ".join(parts) + \
        "\n\nPublished figures from other hardware and scales, beside ours for the direction only:\n\n" + anchors


RENDERERS = {"seats": ("seats_cifar10.json", seats_markdown), "demo": ("demo.json", demo_markdown),
             "quick_time": ("seats_cifar10.json", quick_time_markdown),
             "test_margins": ("test_margins.json", margins_markdown), "throughput": ("throughput.json", throughput_markdown),
             "teachers": ("teachers.json", teachers_markdown), "cifar100": ("cifar100_pipeline.json", cifar100_markdown),
             "precision_effect": ("precision_effect.json", precision_effect_markdown),
             "harden": ("harden_cifar10_full.json", harden_markdown)}


def rendered(name: str, results: Path = RESULTS) -> str:
    file, fn = RENDERERS[name]
    data = json.loads((results / file).read_text())
    data.setdefault("json", file)
    return fn(data)


DOCUMENTS = ("README.md", "docs/cli.md", "docs/testing.md", "docs/verification.md", "benchmarks/README.md")


def sections(text: str, name: str) -> re.Pattern:
    return re.compile(rf"(<!-- render:{name} -->\n)(?:.*?\n)?(<!-- /render:{name} -->)", re.S)


TABLE = re.compile(r"<!-- render:table:([\w.-]+) -->")


def render(text: str, results: Path = RESULTS) -> str:
    """``text`` with every marked section it has replaced by its renderer's output. ``render:table:NAME`` is the
    ``table`` a benchmark script printed and stored in ``results/NAME.json``, verbatim."""
    for name in sorted(set(TABLE.findall(text))):
        table = json.loads((results / f"{name}.json").read_text())["table"].strip()
        text = sections(text, re.escape(f"table:{name}")).sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)
    for name in RENDERERS:
        pattern = sections(text, name)
        if pattern.search(text):
            body = rendered(name, results)
            text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a document differs from the JSON")
    ap.add_argument("--root", default=str(ROOT), help="the repository whose documents are rendered")
    args = ap.parse_args()
    root = Path(args.root)
    texts = {doc: (root / doc).read_text() for doc in DOCUMENTS if (root / doc).is_file()}
    missing = [n for n in RENDERERS if not any(sections(t, n).search(t) for t in texts.values())]
    if missing:
        print(f"no document has the section(s) {', '.join(missing)} (<!-- render:NAME --> ... <!-- /render:NAME -->)",
              file=sys.stderr)
        return 1
    results = root / "benchmarks" / "results"
    stale = [doc for doc, text in texts.items() if render(text, results) != text]
    if args.check:
        for doc in stale:
            print(f"{doc} disagrees with benchmarks/results/: run python benchmarks/render.py", file=sys.stderr)
        return 1 if stale else 0
    from shieldkit.utils import atomic_path

    for doc in stale:
        with atomic_path(root / doc) as tmp:  # a failed write leaves the document as it was
            tmp.write_text(render(texts[doc], results))
        print(f"rewrote {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

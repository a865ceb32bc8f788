"""The README's measured tables, rendered from the committed JSON they come from (so they cannot go stale).

Each marked section of README.md, ``<!-- render:NAME -->`` ... ``<!-- /render:NAME -->``, is the output of one
renderer below applied to one file under ``benchmarks/results/``:

- ``seats``: the threat-model table of the first screen, from ``seats_cifar10.json`` (benchmarks/seats_cifar10.py);
- ``quick_time``: the quick budget's measured time, from ``seats_cifar10.json``;
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


RENDERERS = {"seats": ("seats_cifar10.json", seats_markdown), "demo": ("demo.json", demo_markdown),
             "quick_time": ("seats_cifar10.json", quick_time_markdown)}


def rendered(name: str) -> str:
    file, fn = RENDERERS[name]
    data = json.loads((RESULTS / file).read_text())
    data.setdefault("json", file)
    return fn(data)


def render(text: str) -> str:
    """``text`` with every marked section replaced by its renderer's output."""
    for name in RENDERERS:
        pattern = re.compile(rf"(<!-- render:{name} -->\n)(?:.*?\n)?(<!-- /render:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no section <!-- render:{name} --> ... <!-- /render:{name} -->")
        body = rendered(name)
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when README.md differs from the JSON")
    ap.add_argument("--readme", default=str(ROOT / "README.md"))
    args = ap.parse_args()
    path = Path(args.readme)
    text = path.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{path} disagrees with benchmarks/results/: run python benchmarks/render.py", file=sys.stderr)
            return 1
        return 0
    from shieldkit.utils import atomic_path

    with atomic_path(path) as tmp:  # a failed write leaves the README as it was
        tmp.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())

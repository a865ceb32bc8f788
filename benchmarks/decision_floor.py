"""How much does an oracle's *decision* alone teach a student? The floor under every KD gain ``verify`` measures.

Reads the probes cached by ``protect_frontier.py`` (run it first with ``--decision-only`` and the seeds wanted)
and compares, per student family and seed, paired as ``verify`` pairs its gains:

- ``top1`` (a student trained on the oracle's argmax only) against the best label-only student (``hard``/``ls``,
  on the attacker's ground-truth labels): what any classifier gives away by answering at all;
- each KD attacker against ``top1``: what the outputs teach *beyond* the decisions.

Prints a markdown table and writes JSON.

    python benchmarks/protect_frontier.py --archs resnet8 --seeds 0,1,2,3,4,5,6,7,8,9 --variants "" --decision-only \\
        --json benchmarks/results/protect_frontier_10seeds.json --plot benchmarks/results/protect_frontier_10seeds.png
    python benchmarks/decision_floor.py --seeds 0,1,2,3,4,5,6,7,8,9
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table  # noqa: E402

from shieldkit.utils import write_json  # noqa: E402
from shieldkit.verify.kd import paired_gain  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="benchmarks/runs/protect_frontier")
    ap.add_argument("--json", default="benchmarks/results/decision_floor.json")
    ap.add_argument("--arch", default="resnet8")
    ap.add_argument("--models", default="original,argmax-only")
    ap.add_argument("--families", default="cnn3-16,cnn3-8")
    ap.add_argument("--attackers", default="kd_tau1,kd_tau4,recal_tau4")
    ap.add_argument("--panel", default="quick")
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9")
    args = ap.parse_args()
    work, seeds = Path(args.work), [int(s) for s in args.seeds.split(",")]

    rows, results = [], {}
    for model in args.models.split(","):
        runs: dict[str, list[float]] = {}
        held_out: dict[str, list[float]] = {}  # what the attacker sees: accuracy on its held-out slice
        for s in seeds:
            probe = work / f"probe_{args.panel}_{args.arch}_{model}_s{s}.json"
            base = work / f"baselines_{args.panel}_s{s}.json"
            if not probe.is_file() or not base.is_file():
                sys.exit(f"missing {probe} or {base}: run protect_frontier.py with these seeds first")
            students = {**json.loads(probe.read_text())["students"], **json.loads(base.read_text())}
            for name, student in students.items():
                runs.setdefault(name, []).append(student["mean"])
                held_out.setdefault(name, []).append((student.get("selection") or student)["mean"])
        for family in args.families.split(","):
            # the label-only baseline verify would pick: the better of hard/ls on the held-out slice, never on test
            labels = max(("hard", "ls"), key=lambda b: sum(held_out[f"{family}/{b}"]))
            floor = paired_gain(runs[f"{family}/top1"], runs[f"{family}/{labels}"])
            entry = {"labels_baseline": labels, "top1_vs_labels": floor, "beyond_decisions": {}}
            rows.append([model, family, f"top1 vs {labels}", f"{floor['mean']:+.2f} ± {floor['std']:.2f}",
                         f"{floor['upper95']:+.2f}"])
            for attacker in args.attackers.split(","):
                g = paired_gain(runs[f"{family}/{attacker}"], runs[f"{family}/top1"])
                entry["beyond_decisions"][attacker] = g
                rows.append([model, family, f"{attacker} vs top1", f"{g['mean']:+.2f} ± {g['std']:.2f}",
                             f"{g['upper95']:+.2f}"])
            results[f"{model}/{family}"] = entry
    print(markdown_table(["oracle", "family", "gain", f"mean ± std over {len(seeds)} seeds", "95% upper"], rows))
    write_json({"benchmark": "decision_floor", "command": " ".join(sys.argv), "args": vars(args),
                "environment": environment(), "results": results}, args.json)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

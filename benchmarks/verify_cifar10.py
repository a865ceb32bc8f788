"""``verify`` on real CIFAR-10: the quick budget against the protect benchmark's models, through ONNX
Runtime (the exported artefact, black-box) and through torch (the checkpoint, white-box).

For each model of ``benchmarks/protect_cifar10.py`` (run it first; its checkpoints are read from
``--runs``): export, then ``shieldkit.verify.verify(..., budget="quick")`` -- the quick KD panel
(docs/verification.md) -- with the default policy (max KD gain 0.5 points on the 95 % upper bound). With ``--datafree`` the data-free
attack (quick budget: 150 iterations) also runs through ONNX Runtime (black-box, DFME) and torch
(white-box, DFAD). Prints a markdown table and writes JSON.

    python benchmarks/verify_cifar10.py --json benchmarks/results/verify_cifar10.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, setup_cifar10  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="benchmarks/runs/protect_cifar10")
    ap.add_argument("--work", default="benchmarks/runs/verify_cifar10")
    ap.add_argument("--models", default="original,rml_mirror_b0.5,nasty")
    ap.add_argument("--oracles", default="onnxruntime,torch")
    ap.add_argument("--datafree", action="store_true")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--json", default="benchmarks/results/verify_cifar10.json")
    args = ap.parse_args()

    from shieldkit.exporters import export
    from shieldkit.utils import write_json
    from shieldkit.verify import verify

    data, _ = setup_cifar10()
    runs, work = Path(args.runs), Path(args.work)
    seeds = [int(s) for s in args.seeds.split(",")]
    results, rows = {}, []
    for name in args.models.split(","):
        ckpt = runs / f"{name}.pt"
        if not ckpt.is_file():
            print(f"{ckpt} missing: run benchmarks/protect_cifar10.py first", file=sys.stderr)
            sys.exit(2)
        artefact = work / name
        if not (artefact / "manifest.json").is_file():
            export(ckpt, artefact, data=data, overwrite=True)
        for kind in args.oracles.split(","):
            target = artefact if kind == "onnxruntime" else ckpt
            cached = work / f"{name}.{kind}.json"
            if cached.is_file():
                import json

                report = json.loads(cached.read_text())
            else:
                attacks = ["kd", "datafree"] if args.datafree else ["kd"]
                report = verify(target, data, probe={"budget": "quick", "probes": attacks, "seeds": seeds},
                                log=lambda m: print(f"[{name}/{kind}] {m}", file=sys.stderr)).report
                write_json(report, cached)
            results[f"{name}/{kind}"] = report
            kd = report["attacks"]["kd"]
            seat = report["figures"]["kd_seat"]  # the worst gated seat (report schema 2)
            f = report["seats"][seat]["figures"]
            df = report["attacks"].get("datafree")
            rows.append([name, kind, f"{report['figures']['accuracy']:.2f}", f"{f['baseline_accuracy']:.2f} ({f['baseline']})",
                         f"{f['kd_gain']:+.2f} (≤ {f['kd_gain_upper']:+.2f}) at {seat}", f["kd_attacker"],
                         f"{df['figures']['student_accuracy']:.2f} ({df['figures']['mode']})" if df else "-",
                         kd["queries"] + (df["queries"] if df else 0), f"{report['seconds']:.0f}", report["verdict"]])
    head = ["model", "oracle", "acc", "baseline", "KD gain (95% upper)", "deciding attacker", "data-free",
            "queries", "s", "verdict (max KD gain 0.5)"]
    print(markdown_table(head, rows))
    write_json({"environment": environment(), "settings": vars(args), "reports": results}, args.json)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

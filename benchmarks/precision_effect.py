"""What bf16 autocast changes, same seeds: a teacher trained in bf16 against the same recipe in fp32, and the KD
probe's students trained in bf16 against fp32, on real CIFAR-10.

1. Teacher: ResNet-8, 10 epochs, lr 0.1, seed 0 (the recipe of ``benchmarks/seats_cifar10.py``, whose fp32 run is
   the cached ``original.pt``), trained again with ``precision="bf16"``; test accuracy and wall time of each.
2. Probe: ``verify --budget quick`` of the cached default-protected artefact with the original as reference (the
   seats benchmark's run, fp32 students), repeated with ``precision="bf16"``: per seat, the worst attacker's gain
   and bound, every student's accuracy, and the probe's time.

Caches in ``--work`` (default ``~/.cache/shieldkit/precision_effect``); reads the seats benchmark's cache
(``--seats-work``; ``python benchmarks/seats_cifar10.py`` rebuilds it). Writes ``--json``.

    python benchmarks/precision_effect.py          # ~15 min on 2 cores with the seats cache present
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, setup_cifar10  # noqa: E402


def seat_figures(report: dict) -> dict:
    out = {}
    for seat, s in report["seats"].items():
        f = s["figures"]
        out[seat] = {k: f[k] for k in ("kd_gain", "kd_gain_upper", "kd_gain_lower", "kd_attacker", "baseline",
                                       "baseline_accuracy")}
        out[seat]["verdict"] = s["verdict"]
    return out


def students(report: dict) -> dict:
    probes = report["attacks"]["kd"]["figures"]["seats"]
    return {seat: {name: round(v["mean"], 2) for name, v in p["students"].items()} for seat, p in probes.items()
            if isinstance(p, dict) and "students" in p}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/shieldkit/precision_effect"))
    ap.add_argument("--seats-work", default=os.path.expanduser("~/.cache/shieldkit/seats_cifar10"))
    ap.add_argument("--json", default="benchmarks/results/precision_effect.json")
    args = ap.parse_args()

    import shieldkit
    from shieldkit.verify import verify

    data, work = setup_cifar10(args.work)
    seats = Path(args.seats_work)
    for need in ("original.pt", "original.json", "original.artefact", "protected.artefact", "protected.quick.report.json"):
        if not (seats / need).exists():
            raise SystemExit(f"error: {seats / need} is missing: run python benchmarks/seats_cifar10.py first")
    fp32_teacher = json.loads((seats / "original.json").read_text())
    bf16_ckpt = work / "original_bf16.pt"
    if not bf16_ckpt.is_file():
        shieldkit.train("resnet8", data, out=bf16_ckpt,
                        run={"epochs": 10, "lr": 0.1, "seed": 0, "precision": "bf16",
                             "resume": Path(str(bf16_ckpt) + ".resume").is_file()})
    bf16_teacher = json.loads((work / "original_bf16.json").read_text())

    fp32_report = json.loads((seats / "protected.quick.report.json").read_text())
    bf16_path = work / "protected.quick.bf16.report.json"
    if not bf16_path.is_file():
        t0 = time.perf_counter()
        verify(seats / "protected.artefact", data, reference=seats / "original.artefact",
               probe={"budget": "quick", "precision": "bf16"}, outputs={"report": bf16_path})
        print(f"bf16 verify: {time.perf_counter() - t0:.0f} s")
    bf16_report = json.loads(bf16_path.read_text())

    def teacher_row(rec):
        return {"precision": rec["settings"]["train"].get("precision", "fp32"),
                "test_accuracy": rec["figures"]["test_accuracy"], "train_seconds": rec["figures"]["train_seconds"]}

    def probe_row(rep):
        return {"precision": rep["attacks"]["kd"]["settings"].get("precision", "fp32"), "seats": seat_figures(rep),
                "students": students(rep), "kd_seconds": rep["attacks"]["kd"]["seconds"],
                "verify_seconds": rep["seconds"], "verdict": rep["verdict"]}

    result = {"command": "python benchmarks/precision_effect.py", "environment": environment(),
              "teacher": {"recipe": "resnet8, 10 epochs, lr 0.1, seed 0", "fp32": teacher_row(fp32_teacher),
                          "bf16": teacher_row(bf16_teacher)},
              "probe": {"setting": "verify --budget quick, default-protected artefact, original as reference",
                        "fp32": probe_row(fp32_report), "bf16": probe_row(bf16_report)}}
    rows = [[f"teacher ({p})", f"{result['teacher'][p]['test_accuracy']:.2f} %",
             f"{result['teacher'][p]['train_seconds']:.0f} s", ""] for p in ("fp32", "bf16")]
    for p in ("fp32", "bf16"):
        r = result["probe"][p]
        gains = "; ".join(f"{seat} {s['kd_gain']:+.2f} (≤ {s['kd_gain_upper']:+.2f}) {s['verdict']}"
                          for seat, s in r["seats"].items())
        rows.append([f"probe ({p})", gains, f"{r['kd_seconds']:.0f} s (verify {r['verify_seconds']:.0f} s)",
                     r["verdict"]])
    print(markdown_table(["run", "figure", "time", "verdict"], rows))
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

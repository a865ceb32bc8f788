"""Both seats on real CIFAR-10: the default ``protect`` artefact and the unprotected original, attacked by
``shieldkit verify`` (quick budget, default policy) through ONNX Runtime, with the time each verify takes.

Stages, each cached in ``--work`` (outside the repository; an interrupted run picks up where it stopped, and a
deleted cache is rebuilt by the same recipe):

1. train the original: ResNet-8, 10 epochs, lr 0.1, seed 0 (the frontier's 77.70 % teacher recipe);
2. ``shieldkit protect`` it with every default (recipe, epochs, head ``decision``), seed 0;
3. ``shieldkit export`` both (the original answers with its logits, the protected graph with its head);
4. ``shieldkit verify`` the protected artefact with ``--reference`` the original artefact, and the original with
   itself as reference (its students are the reference's, reused: the memo trains each once), default policy;
   each report and its wall time is cached.

Prints the seat table and writes ``--json`` (default ``benchmarks/results/seats_cifar10.json``), which the
README's first screen quotes.

    python benchmarks/seats_cifar10.py                  # ~45 min on 2 cores from an empty cache
    python benchmarks/seats_cifar10.py --until export   # only the models
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

STAGES = ("train", "protect", "export", "verify")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/shieldkit/seats_cifar10"))
    ap.add_argument("--json", default="benchmarks/results/seats_cifar10.json")
    ap.add_argument("--budget", default="quick")
    ap.add_argument("--until", choices=STAGES, default="verify")
    args = ap.parse_args()

    import shieldkit
    from shieldkit.exporters import export
    from shieldkit.utils import write_json
    from shieldkit.verify import verify

    data, work = setup_cifar10(args.work)
    stop = STAGES.index(args.until)
    timings_path = work / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        timings[name] = time.perf_counter() - t
        write_json(timings, timings_path)
        return out

    original, protected = work / "original.pt", work / "protected.pt"
    if not original.is_file():
        timed("train", lambda: shieldkit.train("resnet8", data, out=original,
                                               run={"epochs": 10, "lr": 0.1, "seed": 0}))
    if stop < 1:
        return
    if not protected.is_file():
        timed("protect", lambda: shieldkit.protect(original, data, out=protected, run={"seed": 0}))
    if stop < 2:
        return
    artefacts = {"original": work / "original.artefact", "protected": work / "protected.artefact"}
    for name, ckpt in (("original", original), ("protected", protected)):
        if not (artefacts[name] / "manifest.json").is_file():
            timed(f"export_{name}", lambda c=ckpt, a=artefacts[name]: export(c, a, data=data, overwrite=True))
    if stop < 3:
        return
    reports = {}
    for name in ("original", "protected"):
        path = work / f"{name}.{args.budget}.report.json"
        if not path.is_file():
            timed(f"verify_{name}", lambda n=name, p=path: verify(artefacts[n], data, reference=artefacts["original"],
                                                                 probe={"budget": args.budget},
                                                                 outputs={"report": p}))
        reports[name] = json.loads(path.read_text())

    rows, out = [], {}
    for name, r in reports.items():
        for seat in ("file", "answer"):
            s = r["seats"][seat]
            f = s["figures"]
            rows.append([name, seat, f"{r['figures']['accuracy']:.2f}", f"{f['baseline_accuracy']:.2f}",
                         f"{f['kd_gain']:+.2f} ({f['kd_gain_upper']:+.2f})", f['kd_attacker'], s["verdict"]])
        out[name] = {"accuracy": r["figures"]["accuracy"], "verdict": r["verdict"],
                     "seats": {seat: {"verdict": r["seats"][seat]["verdict"], "reached": r["seats"][seat]["reached"],
                                      **{k: r["seats"][seat]["figures"][k] for k in
                                         ("kd_gain", "kd_gain_upper", "kd_gain_lower", "kd_attacker", "baseline",
                                          "baseline_accuracy")}} for seat in ("file", "answer")},
                     "power": r["power"], "verify_seconds": r["seconds"],
                     "kd_seconds_by_part": r["attacks"]["kd"]["seconds_by_part"],
                     "kd_seconds_without_references": r["attacks"]["kd"]["seconds"],
                     "students_reused": r["attacks"]["kd"]["figures"]["students_reused"]}
    head = ["model", "seat", "accuracy", "baseline student", "KD gain (95% upper)", "deciding attacker", "verdict"]
    print(markdown_table(head, rows))
    for name, o in out.items():
        print(f"{name}: verify {o['verify_seconds']:.0f} s (KD probe of the artefact itself "
              f"{o['kd_seconds_without_references']:.0f} s: {o['kd_seconds_by_part']}), verdict {o['verdict']}")
    result = {"benchmark": "seats_cifar10", "budget": args.budget, "command": "python benchmarks/seats_cifar10.py",
              "recipe": {"original": "resnet8, 10 epochs, lr 0.1, seed 0", "protect": "every default, seed 0"},
              "dataset": data.describe(), "environment": environment(), "models": out, "timings": timings,
              "policy": "default (max_kd_gain 0.5 at both seats, baseline decisions, max_recorded_accuracy_drop 3)"}
    write_json(result, args.json)
    print(f"-> {args.json}")


if __name__ == "__main__":
    main()

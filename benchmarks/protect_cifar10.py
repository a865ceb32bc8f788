"""RML on real CIFAR-10: does the protected teacher keep its accuracy while KD students learn nothing?

Stages (each cached in --work, so an interrupted run picks up where it stopped):
1. a plain ResNet-8 teacher (``--teacher-epochs``, SGD lr 0.1, cosine);
2. protected versions of it: RML ``mirror`` and ``negate`` (fine-tuned ``--protect-epochs``, lr 0.01,
   α=1, τ=4, β from ``--betas``) and the Nasty Teacher (ResNet-8 from scratch, τ=4, ω=0.04,
   ``--teacher-epochs`` epochs: the same budget as the original);
3. the KD probe against each: a CNN3-16 student trained on a stratified 20% attacker split (10k images) for
   ``--student-epochs`` epochs with hard labels, label smoothing, Hinton KD at τ ∈ {1,4,10,20} (α=0.9)
   and soft labels only (α=1, τ=4), ``--seeds`` seeds; KD gain = best KD student − hard-label student.

Prints a markdown table and writes JSON (``--json``).

    python benchmarks/protect_cifar10.py --json benchmarks/results/protect_cifar10.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, setup_cifar10  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="benchmarks/runs/protect_cifar10")
    ap.add_argument("--json", default="benchmarks/results/protect_cifar10.json")
    ap.add_argument("--arch", default="resnet8")
    ap.add_argument("--teacher-epochs", type=int, default=10)
    ap.add_argument("--protect-epochs", type=int, default=3)
    ap.add_argument("--betas", default="0.5", help="comma-separated RML β values (each for mirror and negate)")
    ap.add_argument("--reverses", default="mirror,negate")
    ap.add_argument("--student-epochs", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-nasty", action="store_true")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()


    import shieldkit
    from shieldkit.utils import write_json
    from shieldkit.verify import KDProbeConfig, format_probe_table, kd_probe, train_baselines

    data, work = setup_cifar10(args.work)
    t_start = time.perf_counter()

    def stage(path: Path, make):
        if not path.is_file():
            make(path)
        model, info = shieldkit.load_model(path)
        return model, info

    teacher_path = work / "original.pt"
    stage(teacher_path, lambda p: shieldkit.train(args.arch, data, out=p, run={"epochs": args.teacher_epochs,
                                                                               "lr": 0.1, "device": args.device}))
    teachers = {"original": teacher_path}
    for beta in [float(b) for b in args.betas.split(",") if b]:
        for reverse in [r for r in args.reverses.split(",") if r]:
            p = work / f"rml_{reverse}_b{beta:g}.pt"
            stage(p, lambda p, r=reverse, b=beta: shieldkit.protect(
                teacher_path, data, out=p, method="rml",
                settings={"alpha": 1.0, "beta": b, "tau": 4.0, "negatives": r},
                run={"epochs": args.protect_epochs, "lr": 0.01, "device": args.device}))
            teachers[f"RML {reverse} β={beta:g}"] = p
    if not args.no_nasty:
        p = work / "nasty.pt"
        stage(p, lambda p: shieldkit.protect(teacher_path, data, out=p, method="nasty",
                                             settings={"tau": 4.0, "omega": 0.04},
                                             run={"epochs": args.teacher_epochs, "lr": 0.1, "device": args.device}))
        teachers["Nasty (from scratch)"] = p

    probe_cfg = KDProbeConfig(epochs=args.student_epochs, seeds=tuple(range(args.seeds)), device=args.device)
    cache = work / f"probe_e{args.student_epochs}_s{args.seeds}.json"
    probes = json.loads(cache.read_text()) if cache.is_file() else {}
    baselines = probes.get("_baselines") or train_baselines(data, probe_cfg, progress=True)
    probes["_baselines"] = baselines
    accuracy, settings = {}, {}
    for name, path in teachers.items():
        model, info = shieldkit.load_model(path)
        f = info.figures
        accuracy[name] = f.get("protected_test_accuracy", f.get("test_accuracy"))
        settings[name] = info.settings
        if name not in probes:
            probes[name] = kd_probe(model, data, probe_cfg, baselines=baselines, progress=True)
            write_json(probes, cache)
    results = {k: v for k, v in probes.items() if k in teachers}

    print(format_probe_table(results, accuracy))
    cols = list(next(iter(results.values()))["students"])
    rows = []
    for name, r in results.items():
        cells = [name, f"{accuracy[name]:.2f}"]
        for c in cols:
            s = r["students"][c]
            cells.append(f"{s['mean']:.2f} ± {s['std']:.2f}")
        cells.append(f"{r['kd_gain']:+.2f} ({r['deciding_attacker']})")
        rows.append(cells)
    print()
    print(markdown_table(["teacher", "teacher acc"] + cols + ["KD gain (best)"], rows))
    out = {"benchmark": "protect_cifar10", "command": " ".join(sys.argv), "args": vars(args),
           "environment": environment(), "seconds": time.perf_counter() - t_start,
           "teacher_accuracy": accuracy, "probe": results, "teacher_settings": settings}
    write_json(out, args.json)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

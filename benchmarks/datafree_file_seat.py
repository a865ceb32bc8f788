"""White-box data-free KD at the ``file`` seat: does protection stop an attacker who has the network but no data?

Whoever holds an artefact holds its graph, weights included, so at the file seat the data-free attacker is
white-box: a DFAD-style generator trained through the network itself, with DeepInversion's BatchNorm-statistics
matching (``verify/datafree.py``, ``DataFreeConfig(mode="white")``). The models are those of the seats benchmark
(``benchmarks/seats_cifar10.py``, cached in ``--work``): the ResNet-8 original and the same network after every
``protect`` default, read from their checkpoints (the network the file seat reaches, below any head). Both get the
same attack, iterations and seeds; a run per (model, seed) is cached in ``--work``, so a rerun resumes. The figure
is the data-free student's CIFAR-10 test accuracy, paired per seed (each protected model − original).

    python benchmarks/datafree_file_seat.py --iterations 400 --seeds 0,1,2 --models original,protected,template
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, seed_summary, setup_cifar10  # noqa: E402

MODELS = ("original", "protected")
# a protected model from the frontier benchmark, the same 77.70 % ResNet-8 protected with another recipe
FRONTIER = {"template": "~/.cache/shieldkit/protect_frontier/resnet8_template_s0.pt"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/shieldkit/seats_cifar10"))
    ap.add_argument("--json", default="benchmarks/results/datafree_file_seat.json")
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--models", default=",".join(MODELS), help=f"original, protected (the seats benchmark's) and "
                    f"{', '.join(FRONTIER)} (benchmarks/protect_frontier.py --variants template, seed 0)")
    args = ap.parse_args()

    import shieldkit
    from shieldkit.utils import write_json
    from shieldkit.verify import DataFreeConfig, TorchOracle, datafree_attack

    data, work = setup_cifar10(args.work)
    seeds = [int(s) for s in args.seeds.split(",")]
    t_start = time.perf_counter()
    runs: dict[str, list[dict]] = {}
    models = args.models.split(",")
    if "original" not in models:
        raise SystemExit("error: --models must include original (the paired baseline)")
    for name in models:
        ckpt = Path(FRONTIER[name]).expanduser() if name in FRONTIER else work / f"{name}.pt"
        if not ckpt.is_file():
            raise SystemExit(f"error: {ckpt} is missing: run python benchmarks/seats_cifar10.py (or "
                             f"protect_frontier.py for {', '.join(FRONTIER)}) first")
        model, info = shieldkit.load_model(ckpt)
        runs[name] = []
        for s in seeds:
            path = work / f"datafree_white_{name}_i{args.iterations}_s{s}.json"
            if not path.is_file():
                cfg = DataFreeConfig(mode="white", iterations=args.iterations, seed=s)
                r = datafree_attack(TorchOracle(model, num_classes=data.num_classes), data, cfg, progress=True)
                write_json({k: v for k, v in r.items() if k != "student"}, path)
            runs[name].append(json.loads(path.read_text()))
            print(f"{name} seed {s}: student {runs[name][-1]['student_accuracy']:.2f} % "
                  f"({runs[name][-1]['seconds']:.0f} s)")
    accuracy = {n: seed_summary([r["student_accuracy"] for r in rs]) for n, rs in runs.items()}
    paired = {n: seed_summary([p["student_accuracy"] - o["student_accuracy"] for p, o in zip(runs[n], runs["original"])])
              for n in models if n != "original"}
    rows = [[n, f"{a['mean']:.2f} ± {a['std']:.2f}", ", ".join(f"{v:.2f}" for v in a["runs"]),
             f"{statistics_seconds(runs[n]):.0f}"] for n, a in accuracy.items()]
    table = markdown_table(["model (file seat, white-box)", "data-free student acc %", "per seed", "s per run"], rows)
    print(table)
    for n, d in paired.items():
        print(f"{n} − original, paired per seed: {d['mean']:+.2f} ± {d['std']:.2f} (95 % upper {d['upper95']:+.2f})")
    write_json({"benchmark": "datafree_file_seat", "command": "python " + " ".join(sys.argv), "args": vars(args),
                "settings": runs["original"][0]["settings"], "seeds": seeds, "accuracy": accuracy,
                "minus_original": paired, "table": table, "environment": environment(),
                "bn_matching": {n: rs[0]["bn_matching"] for n, rs in runs.items()},
                "seconds": time.perf_counter() - t_start}, Path(args.json))
    print(f"wrote {args.json}")


def statistics_seconds(rs: list[dict]) -> float:
    return sum(r["seconds"] for r in rs) / len(rs)


if __name__ == "__main__":
    main()

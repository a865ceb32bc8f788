"""The literature's adaptive attackers at the ``file`` seat: does the Skeptical Student (Kundu et al., NeurIPS 2021)
learn more from a model's file-seat logits than the panel's own attackers do?

The models are those of the seats benchmark (``benchmarks/seats_cifar10.py``, cached in ``--work``: a ResNet-8
trained 10 epochs on CIFAR-10, and the same model after every ``protect`` default, both exported). Against each
model's ``file`` seat (the graph cut below any head, as ``verify`` reaches it) the ``--panel`` budget's KD students
run together with the skeptical student (``KDProbeConfig.skeptical``), one probe per seed, each cached in
``--work`` so that a rerun resumes at the first missing one. Gains are paired per seed against the decisions
baseline, exactly as ``verify`` measures them; the skeptical row also shows its gain over the plain KD student of
the same seed (what the paper reports).

    python benchmarks/adaptive_attackers.py --seeds 0,1,2        # about 8 min per model and seed set on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, setup_cifar10  # noqa: E402

MODELS = ("original", "protected")


def summary(values: list[float]) -> dict:
    from shieldkit.verify.kd import t95

    n = len(values)
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if n > 1 else 0.0
    return {"mean": mean, "std": std, "upper95": mean + t95(n - 1) * std / math.sqrt(n) if n > 1 else math.inf,
            "lower95": mean - t95(n - 1) * std / math.sqrt(n) if n > 1 else -math.inf, "runs": values}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/shieldkit/seats_cifar10"),
                    help="where benchmarks/seats_cifar10.py left original.artefact and protected.artefact")
    ap.add_argument("--json", default="benchmarks/results/adaptive_attackers.json")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--panel", default="quick", help="the verify budget whose KD panel runs beside the skeptical "
                    "student")
    args = ap.parse_args()

    from shieldkit.utils import write_json
    from shieldkit.verify import OnnxOracle, kd_probe, train_baselines
    from shieldkit.verify.budgets import budget_configs
    from shieldkit.verify.seats import model_seats

    data, work = setup_cifar10(args.work)
    for name in MODELS:
        if not (work / f"{name}.artefact" / "manifest.json").is_file():
            raise SystemExit(f"error: {work / name}.artefact is missing: run python benchmarks/seats_cifar10.py first")
    seeds = [int(s) for s in args.seeds.split(",")]
    cfg = replace(budget_configs(args.panel)[0], skeptical=True, baseline="decisions")
    t_start = time.perf_counter()

    def cached(path: Path, make):
        if path.is_file():
            return json.loads(path.read_text())
        value = make()
        write_json(value, path)
        return value

    results, rows = {}, []
    for name in MODELS:
        seat = model_seats(OnnxOracle(work / f"{name}.artefact", providers="cpu"), providers="cpu")["file"]
        probes = []
        for s in seeds:
            one = replace(cfg, seeds=(s,))
            base = cached(work / f"adaptive_{args.panel}_baselines_s{s}.json",
                          lambda c=one: train_baselines(data, c, progress=True))
            probes.append(cached(work / f"adaptive_{args.panel}_{name}_file_s{s}.json",
                                 lambda c=one, b=base: kd_probe(seat.oracle, data, c, baselines=b, progress=True)))
        kinds = sorted({a for p in probes for a in p["attackers"]})
        attackers = {a: {**summary([p["attackers"][a]["gain"]["runs"][0] for p in probes]),
                         "chosen": [p["attackers"][a]["student"] for p in probes]} for a in kinds}
        over_kd = {}
        for family in cfg.families:
            sk = [p["students"][f"{family}/skeptical_tau{cfg.adaptive_tau:g}"]["runs"][0] for p in probes]
            kd = [p["students"][f"{family}/kd_tau{cfg.adaptive_tau:g}"]["runs"][0] for p in probes]
            over_kd[family] = summary([a - b for a, b in zip(sk, kd)])
        worst = max(attackers, key=lambda a: attackers[a]["upper95"])
        without = max((a for a in attackers if not a.endswith("/skeptical")), key=lambda a: attackers[a]["upper95"])
        results[name] = {"seat": seat.reached, "attackers": attackers, "skeptical_over_kd": over_kd,
                         "deciding_attacker": worst, "deciding_without_skeptical": without}
        for a in kinds:
            g = attackers[a]
            extra = ""
            if a.endswith("/skeptical"):
                o = over_kd[a.split("/")[0]]
                extra = f"{o['mean']:+.2f} ± {o['std']:.2f}"
            rows.append([name, a, f"{g['mean']:+.2f} ± {g['std']:.2f}", f"{g['upper95']:+.2f}",
                         "deciding" if a == worst else "", extra])
    table = markdown_table(["model", "attacker (file seat)", "gain beyond decisions", "95 % upper", "",
                            "skeptical − KD τ=4"], rows)
    print(table)
    out = {"benchmark": "adaptive_attackers", "command": "python " + " ".join(sys.argv), "args": vars(args),
           "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
           "seeds": seeds, "results": results, "table": table, "environment": environment(),
           "seconds": time.perf_counter() - t_start}
    write_json(out, Path(args.json))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

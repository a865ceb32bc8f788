"""The accuracy / protection frontier of ``protect`` on real CIFAR-10, attacked through ONNX Runtime.

For each teacher architecture (``--archs``; trained once with seed 0 and cached) and each variant
(``--variants``, names of :data:`VARIANTS`), for each seed s of ``--seeds``:

1. protect the teacher with seed s (``shieldkit.protect``, ``--protect-epochs``, lr 0.01);
2. export it (``shieldkit export``: ONNX + manifest, parity checked) -- the original is exported too;
3. attack the artefact through ONNX Runtime with the KD panel of ``verify`` (``--panel`` budget: two
   student families, KD at several τ, soft labels, top-1, un-mirror, recalibration...), students of seed s.

Per (family, attack kind) the gain is paired per seed with the same seed's best label-only student,
the τ/k of each kind chosen on the attacker's held-out slice; over the seeds it gives mean ± std and
a one-sided 95 % upper bound. The worst attacker is the (family, kind) with the largest upper bound.
``--heads confidence,decision`` adds, for the original and every variant, its artefact exported with that
output head (``export --outputs``, shieldkit/output_heads.py), named ``variant+head``.
Baselines without training: ``stingy-k`` (the Stingy Teacher: the original's top-k outputs only, a
post-hoc output filter, attacked through torch).

Prints a markdown table, writes JSON and a PNG plot of accuracy drop against worst-attacker gain.
Every stage is cached under ``--work``, so an interrupted run picks up where it stopped.

    python benchmarks/protect_frontier.py --archs resnet8 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, setup_cifar10  # noqa: E402

# variant name -> protect() keyword arguments (method rml unless given)
VARIANTS: dict[str, dict] = {
    "rml-paper": {"recipe": "rml-paper"},
    "uniform": {"recipe": "uniform"},
    "uniform-b2": {"recipe": "uniform", "beta": 2.0},
    "flat": {"recipe": "flat"},
    "flat-f0": {"recipe": "flat", "flatness": 0.0},
    "flat-f1": {"recipe": "flat", "flatness": 1.0},
    "flat-f10": {"recipe": "flat", "flatness": 10.0},
    "uniform-f1": {"recipe": "uniform", "flatness": 1.0},
    "template": {"recipe": "template"},
    "template-1": {"recipe": "template", "template": 1.0},
    "plain-ft": {"recipe": "uniform", "beta": 0.0},  # the control: the same fine-tune with no protection term
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="benchmarks/runs/protect_frontier")
    ap.add_argument("--json", default="benchmarks/results/protect_frontier.json")
    ap.add_argument("--plot", default="benchmarks/results/protect_frontier.png")
    ap.add_argument("--archs", default="resnet8")
    ap.add_argument("--teacher-epochs", type=int, default=10)
    ap.add_argument("--protect-epochs", type=int, default=3)
    ap.add_argument("--variants", default="rml-paper,uniform,flat")
    ap.add_argument("--stingy", default="", help="comma-separated k of Stingy Teacher baselines, e.g. 3")
    ap.add_argument("--decision-only", action="store_true",
                    help="add the ideal output: a fixed margin on the original's decision, nothing else")
    ap.add_argument("--heads", default="", help="comma-separated output heads (confidence, decision): also attack "
                    "each model exported with that head")
    ap.add_argument("--no-plain", action="store_true", help="with --heads: leave out the models without a head")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--panel", default="quick", help="verify budget whose KD panel attacks (quick | standard)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--skeptical", action="store_true", help="add the Skeptical Student (KDProbeConfig.skeptical) to "
                    "the panel; probes cached without it train only the skeptical students")
    ap.add_argument("--kd-baseline", default="labels", help="labels | decisions: what gains are measured against "
                    "(KDProbeConfig.baseline; cached probes are re-decided, nothing retrains)")
    args = ap.parse_args()

    import torch

    import shieldkit
    from shieldkit.methods.rml import RMLSettings
    from shieldkit.exporters import export
    from shieldkit.utils import write_json
    from shieldkit.verify import OnnxOracle, TorchOracle, kd_probe, train_baselines
    from shieldkit.verify.budgets import budget_configs
    from shieldkit.verify.kd import decide, paired_gain

    data, work = setup_cifar10(args.work)
    t_start = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    base_cfg, _ = budget_configs(args.panel)
    from dataclasses import replace as _replace

    base_cfg = _replace(base_cfg, baseline=args.kd_baseline, skeptical=args.skeptical or base_cfg.skeptical)

    def probe_cfg(seed):
        from dataclasses import replace

        return replace(base_cfg, seeds=(seed,), device=args.device)

    def cached_json(path: Path, make):
        if path.is_file():
            return json.loads(path.read_text())
        value = make()
        write_json(value, path)
        return value

    def artefact_of(ckpt: Path, head: str = "logits") -> Path:
        d = ckpt.with_suffix(".artefact" if head == "logits" else f".{head}.artefact")
        if not (d / "manifest.json").is_file():
            export(ckpt, d, data=data, overwrite=True, parity={"n": 1000}, graph={"head": head})
        return d

    baselines = {s: cached_json(work / f"baselines_{args.panel}_s{s}.json",
                                lambda s=s: train_baselines(data, probe_cfg(s), progress=True)) for s in seeds}
    rows, results = [], {}
    for arch in args.archs.split(","):
        teacher = work / f"teacher_{arch}.pt"
        if not teacher.is_file():
            shieldkit.train(arch, data, out=teacher,
                            run={"epochs": args.teacher_epochs, "lr": 0.1, "seed": 0, "device": args.device})
        teacher_model, info = shieldkit.load_model(teacher)
        teacher_acc = info.figures["test_accuracy"]
        models: dict[str, dict] = {"original": {}}
        for name in [v for v in args.variants.split(",") if v]:
            models[name] = VARIANTS[name]
        for k in [int(k) for k in args.stingy.split(",") if k]:
            models[f"stingy-{k}"] = {"stingy": k}
        plain = [n for n in models if not n.startswith("stingy")]
        for head in [h for h in args.heads.split(",") if h]:
            for name in plain:
                models[f"{name}+{head}"] = {**models[name], "head": head}
        if args.heads and args.no_plain:
            models = {k: v for k, v in models.items() if "head" in v}
        if args.decision_only:
            models["argmax-only"] = {"decision_only": True}
        for name, kw in models.items():
            kw = dict(kw)
            head = kw.pop("head", "logits")
            per_seed = {}
            for s in seeds:
                key = f"{arch}_{name}_s{s}"
                if name.split("+")[0] == "original":
                    ckpt, acc = teacher, teacher_acc
                    oracle = lambda h=head: OnnxOracle(artefact_of(teacher, h))  # noqa: E731
                elif "decision_only" in kw:
                    ckpt, acc = teacher, teacher_acc
                    oracle = lambda: TorchOracle(DecisionOnly(teacher_model), num_classes=10)  # noqa: E731
                elif "stingy" in kw:
                    ckpt, acc = teacher, teacher_acc
                    oracle = lambda k=kw["stingy"]: TorchOracle(StingyTeacher(teacher_model, k), num_classes=10)  # noqa: E731
                else:
                    ckpt = work / f"{arch}_{name.split('+')[0]}_s{s}.pt"
                    if not ckpt.is_file():
                        fields = {f.name for f in dataclasses.fields(RMLSettings)}
                        rml = {k: v for k, v in kw.items() if k in fields}
                        shieldkit.protect(teacher, data, out=ckpt, settings=rml,
                                          run={"epochs": args.protect_epochs, "lr": 0.01, "seed": s,
                                               "device": args.device},
                                          **{k: v for k, v in kw.items() if k not in rml})
                    acc = shieldkit.load_model(ckpt)[1].figures["protected_test_accuracy"]
                    oracle = lambda c=ckpt, h=head: OnnxOracle(artefact_of(c, h))  # noqa: E731
                probe_file = work / f"probe_{args.panel}_{key}.json"
                probe = cached_json(probe_file, lambda o=oracle, s=s: _strip(kd_probe(o(), data, probe_cfg(s),
                                                                                       baselines=baselines[s])))
                if missing_students(probe, probe_cfg(s)):  # a probe cached before the panel grew: train the rest
                    probe = _strip(kd_probe(oracle(), data, probe_cfg(s), baselines=probe["students"]))
                    write_json(probe, probe_file)
                # the panel's decision is recomputed from the students, so cached probes follow the current rules
                probe["students"].update(baselines[s])
                probe.update(decide(probe["students"], base_cfg))
                per_seed[s] = {"accuracy": acc, "probe": probe}
                print(f"[{arch}/{name}/s{s}] acc {acc:.2f}  worst {probe['deciding_attacker']} {probe['kd_gain']:+.2f}",
                      file=sys.stderr, flush=True)
            results[f"{arch}/{name}"] = summarise(per_seed, teacher_acc, paired_gain)
            r = results[f"{arch}/{name}"]
            rows.append([arch, name, f"{r['accuracy']['mean']:.2f} ± {r['accuracy']['std']:.2f}",
                         f"{r['accuracy_drop']:+.2f}",
                         *[f"{r['kinds'][k]['mean']:+.2f}" if k in r["kinds"] else "-" for k in KIND_COLUMNS],
                         f"{r['worst']['gain']['mean']:+.2f} ± {r['worst']['gain']['std']:.2f} "
                         f"(≤ {r['worst']['gain']['upper95']:+.2f})", r["worst"]["attacker"]])
    head = ["arch", "variant", "test acc", "drop", *[f"{k} gain" for k in KIND_COLUMNS],
            "worst gain mean ± std (95% upper)", "worst attacker"]
    table = markdown_table(head, rows)
    print(table)
    out = {"benchmark": "protect_frontier", "command": " ".join(sys.argv), "args": vars(args),
           "environment": environment(), "seconds": time.perf_counter() - t_start, "results": results,
           "variants": {k: VARIANTS[k] for k in args.variants.split(",") if k}, "table": table}
    write_json(out, args.json)
    plot(results, args.plot)
    print(f"\nwrote {args.json} and {args.plot}")


KIND_COLUMNS = ("kd", "soft", "top1", "topk", "unmirror", "recal", "skeptical")


def summarise(per_seed: dict, teacher_acc: float, paired_gain) -> dict:
    """Over seeds: accuracy, and per (family, kind) the paired gain of the attacker's per-seed choice."""
    accs = [v["accuracy"] for v in per_seed.values()]
    gains: dict[str, dict] = {}
    for fam_kind in next(iter(per_seed.values()))["probe"]["attackers"]:
        runs, chosen = [], []
        for v in per_seed.values():
            a = v["probe"]["attackers"][fam_kind]
            runs += a["gain"]["runs"]
            chosen.append(a["student"])
        gains[fam_kind] = {**paired_gain(runs, [0.0] * len(runs)), "chosen": chosen}
    worst = max(gains, key=lambda k: (gains[k]["upper95"], gains[k]["mean"]))
    kinds = {}  # per kind, the family where it gains most
    for kind in KIND_COLUMNS:
        cands = [g for k, g in gains.items() if k.endswith("/" + kind)]
        if cands:
            kinds[kind] = max(cands, key=lambda g: g["mean"])
    return {"accuracy": {"mean": statistics.fmean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                         "runs": accs},
            "accuracy_drop": teacher_acc - statistics.fmean(accs), "teacher_accuracy": teacher_acc,
            "attackers": gains, "kinds": kinds, "worst": {"attacker": worst, "gain": gains[worst]},
            "per_seed": per_seed}


def missing_students(probe: dict, cfg) -> list[str]:
    """The students of the current panel that a cached probe does not have."""
    from shieldkit.verify.kd import student_configs

    return [f"{fam}/{n}" for fam in cfg.families for n in student_configs(cfg) if f"{fam}/{n}" not in probe["students"]]


def _strip(probe: dict) -> dict:
    probe.pop("settings", None)
    return probe


def StingyTeacher(model, k: int):
    """The Stingy Teacher baseline: the model's outputs with all but the top k masked (a post-hoc filter)."""
    import torch

    from shieldkit.verify.adaptive import topk_logits

    class Stingy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model, self.num_classes = model, model.num_classes

        def forward(self, x):
            return topk_logits(self.model(x), k)

    return Stingy()


def DecisionOnly(model, confidence: float = 0.9):
    """The model's decision at a fixed confidence C and nothing else: the ``decision`` output head
    (shieldkit/output_heads.py), attacked through torch."""
    from shieldkit.output_heads import OutputHead

    return OutputHead(model, "decision", confidence).eval()


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, r in results.items():
        g = r["worst"]["gain"]
        ax.errorbar(r["accuracy_drop"], g["mean"], yerr=g["std"], xerr=r["accuracy"]["std"], fmt="o", capsize=3)
        ax.annotate(key, (r["accuracy_drop"], g["mean"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("accuracy drop vs original (points)")
    ax.set_ylabel("worst-attacker KD gain (points, mean ± std)")
    ax.set_title("protect frontier, CIFAR-10, through ONNX Runtime")
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    tmp.replace(path)


if __name__ == "__main__":
    main()

"""ARD vs its baselines on real CIFAR-10 at a CPU-feasible scale, then how much robustness survives RML.

What runs (each stage cached in --work; an interrupted run picks up where it stopped):
1. robust teacher: ResNet-8, PGD-AT (``--teacher-epochs`` on all 50k images, PGD-``--teacher-steps``,
   step 2/255, ε = 8/255, SGD lr 0.1 cosine);
2. students (``--student``, default CNN3 width 16, 24k parameters) hardened on a stratified pool of
   ``--train-images`` CIFAR-10 training images ("100%") and on ``--fractions`` of it, with every
   method at one budget (``--epochs``, batch 128, lr 0.1, PGD-``--attack-steps`` step 2/255 in training):
   AT (PGD-AT of the student alone), ARD (Goldblum), RSLAD, ARD (full) and ARD with each level removed;
3. evaluation on a fixed stratified subset of the test split: clean, FGSM, PGD-20, CW∞-20
   (``--eval-n`` images) and AutoAttack standard (``--aa-n`` images, 100% rows and protected rows only);
4. ``protect`` (RML, 3 epochs, lr 0.01) of the AT, RSLAD and ARD students, plain and robust
   (``adversarial_steps`` = ``--attack-steps``: CE on PGD examples added), evaluated again; with ``--kd``
   the KD probe (verify's quick budget) against ARD before and after each protection.

    python benchmarks/harden_cifar10.py --json benchmarks/results/harden_cifar10.json

At full data (issue 25): the zoo's robust ResNet-20 (benchmarks/teachers.py) as ``--teacher``, ResNet-8
students on all 50k training images, standard AutoAttack on 1000 test images (the teacher's own AutoAttack figure
is in teachers.json, so it is not recomputed here):

    python benchmarks/harden_cifar10.py --teacher ~/.cache/shieldkit/teachers/cifar10-resnet20-fastat.pt \
        --student resnet8 --train-images 0 --fractions 1.0 --methods at,ard-goldblum,rslad,ard --protect "" \
        --epochs 5 --attack-steps 3 --aa-n 1000 --work ~/.cache/shieldkit/harden_full \
        --json benchmarks/results/harden_cifar10_full.json

The limited-data rows and the black-box row (issue 25) add to the same cache: ``--fractions 1.0,0.1,0.01`` with
``--seeds 0,1,2`` (the limited-data rows only; each seed draws its own stratified subset and its own
initialisation) and ``--fraction-epochs 0.1=10,0.01=50`` (a small subset gets more epochs, so that a 10 % student
sees one full-data epoch's worth of images and a 1 % student half of one; every method gets the same), and
``--blackbox``: Square (``--square-queries`` per image, score-based) on each full-data student and a transfer attack,
PGD-20 crafted on a surrogate trained separately (a ResNet-8 PGD-AT of seed 1 on all 50k images, the students'
epochs and PGD steps; it never sees the teacher), all on the same ``--eval-n`` test images:

    python benchmarks/harden_cifar10.py --teacher ~/.cache/shieldkit/teachers/cifar10-resnet20-fastat.pt \
        --student resnet8 --train-images 0 --fractions 1.0,0.1,0.01 --seeds 0,1,2 \
        --fraction-epochs 0.1=10,0.01=50 --methods at,ard-goldblum,rslad,ard --protect "" --blackbox \
        --epochs 5 --attack-steps 3 --aa-n 1000 --work ~/.cache/shieldkit/harden_full \
        --json benchmarks/results/harden_cifar10_full.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, seed_summary, setup_cifar10  # noqa: E402

VARIANTS = {
    "at": dict(method="at"),
    "ard-goldblum": dict(method="ard-goldblum"),
    "rslad": dict(method="rslad"),
    "ard": dict(method="ard", levels="cat,sample,disc"),
    "ard-no-cat": dict(method="ard", levels="sample,disc"),
    "ard-no-sample": dict(method="ard", levels="cat,disc"),
    "ard-no-disc": dict(method="ard", levels="cat,sample"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="benchmarks/runs/harden_cifar10")
    ap.add_argument("--json", default="benchmarks/results/harden_cifar10.json")
    ap.add_argument("--teacher", default=None, help="a robust teacher checkpoint to distil (default: train the "
                    "ResNet-8 PGD-AT teacher of stage 1)")
    ap.add_argument("--teacher-epochs", type=int, default=5)
    ap.add_argument("--teacher-steps", type=int, default=5)
    ap.add_argument("--student", default="cnn3")
    ap.add_argument("--student-width", type=int, default=16)
    ap.add_argument("--train-images", type=int, default=10000, help="size of the training pool (0: all 50k)")
    ap.add_argument("--fractions", default="1.0,0.1")
    ap.add_argument("--seeds", default="0", help="seeds of the limited-data rows (fractions < 1); the full-data rows "
                    "are seed 0")
    ap.add_argument("--fraction-epochs", default="", help="epochs per fraction, e.g. 0.1=10,0.01=50 (others: --epochs)")
    ap.add_argument("--blackbox", action="store_true", help="Square and transfer (from a separately trained "
                    "surrogate) on the teacher and the full-data students")
    ap.add_argument("--square-queries", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--attack-steps", type=int, default=5)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--lambdas", default="1,1,1")
    ap.add_argument("--methods", default=",".join(VARIANTS))
    ap.add_argument("--eval-n", type=int, default=1000)
    ap.add_argument("--aa-n", type=int, default=200)
    ap.add_argument("--no-aa", action="store_true", help="skip AutoAttack now; a later run without it adds AutoAttack "
                    "to the cached evaluations")
    ap.add_argument("--protect", default="at,rslad,ard")
    ap.add_argument("--kd", action="store_true", help="also run verify's quick KD probe on ARD before/after protect")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    import shieldkit
    from shieldkit.checkpoint import load_model
    from shieldkit import harden
    from shieldkit.runs import data_fraction_subset
    from shieldkit.robustness import RobustnessConfig, evaluate_robustness
    from shieldkit.utils import write_json

    data, work = setup_cifar10(args.work)
    t_start = time.perf_counter()
    eps, step = 8 / 255, 2 / 255

    teacher_path = Path(args.teacher).expanduser() if args.teacher else work / "teacher_pgd_resnet8.pt"
    if args.teacher and not teacher_path.is_file():
        raise SystemExit(f"--teacher {teacher_path}: not found (benchmarks/teachers.py builds the zoo)")
    if not teacher_path.is_file():
        shieldkit.train("resnet8", data, out=teacher_path, adversarial="pgd",
                        settings={"attack": {"steps": args.teacher_steps, "step_size": step}},
                        run={"epochs": args.teacher_epochs, "device": args.device})
    pool = data_fraction_subset(data, (args.train_images or len(data.train)) / len(data.train), seed=0)
    student_kwargs = {"width": args.student_width} if args.student == "cnn3" else {}

    def evaluation(name: str, path: Path, with_aa: bool) -> dict:
        cache = work / f"{name}.eval.json"
        with_aa = with_aa and not args.no_aa
        out = json.loads(cache.read_text()) if cache.is_file() else None
        if out is not None and (not with_aa or "autoattack" in out):
            return out
        model, _ = load_model(path)
        if out is None:
            res = evaluate_robustness(model, data.test, RobustnessConfig(attacks=("clean", "fgsm", "pgd20", "cw"),
                                                                         n=args.eval_n, device=args.device))
            out = {"accuracy": res["accuracy"], "seconds": res["seconds"], "n": res["n"]}
        if with_aa:
            aa = evaluate_robustness(model, data.test, RobustnessConfig(attacks=("autoattack",), n=args.aa_n,
                                                                        device=args.device))
            out["autoattack"] = {"accuracy": aa["accuracy"]["autoattack"], "n": aa["n"],
                                 "seconds": aa["seconds"]["autoattack"]}
        write_json(out, cache)
        return out

    surrogate = None
    if args.blackbox:
        surrogate_path = work / "surrogate_pgd_resnet8_s1.pt"
        if not surrogate_path.is_file():
            shieldkit.train("resnet8", data, out=surrogate_path, adversarial="pgd",
                            settings={"attack": {"eps": eps, "steps": args.attack_steps, "step_size": step}},
                            run={"epochs": args.epochs, "seed": 1, "device": args.device})
        surrogate, _ = load_model(surrogate_path)

    def blackbox(name: str, path: Path) -> dict:
        """Square and transfer accuracy (%) on the --eval-n images, cached beside the white-box figures."""
        cache = work / f"{name}.blackbox.json"
        if cache.is_file():
            return json.loads(cache.read_text())
        model, _ = load_model(path)
        res = evaluate_robustness(model, data.test, RobustnessConfig(
            attacks=("clean", "square", "transfer"), n=args.eval_n, square_queries=args.square_queries,
            device=args.device), transfer_source=surrogate)
        out = {"accuracy": res["accuracy"], "seconds": res["seconds"], "n": res["n"],
               "square_queries": args.square_queries, "surrogate": "surrogate_pgd_resnet8_s1"}
        write_json(out, cache)
        return out

    rows, results = [], {"teacher": {"figures": json.loads(teacher_path.with_suffix(".json").read_text())["figures"],
                                     "eval": evaluation("teacher", teacher_path, not args.teacher)}}

    def add_row(label, frac, ev, per_epoch):
        a = ev["accuracy"]
        aa = ev.get("autoattack", {}).get("accuracy")
        rows.append([label, f"{100 * frac:.0f}%" if frac else "-", f"{a['clean']:.2f}", f"{a['fgsm']:.2f}",
                     f"{a['pgd20']:.2f}", f"{a['cw']:.2f}", "-" if aa is None else f"{aa:.2f}",
                     "-" if per_epoch is None else f"{per_epoch:.0f}"])

    teacher_label = f"teacher {Path(args.teacher).stem}" if args.teacher else "teacher ResNet-8 (PGD-AT)"
    add_row(teacher_label, None, results["teacher"]["eval"], None)
    if args.blackbox:
        results["teacher"]["blackbox"] = blackbox("teacher", teacher_path)
    fractions = [float(f) for f in args.fractions.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    fraction_epochs = {float(k): int(v) for k, v in (kv.split("=") for kv in args.fraction_epochs.split(",") if kv)}
    limited: dict[str, dict] = {}
    for frac in fractions:
        epochs = fraction_epochs.get(frac, args.epochs)
        for name in args.methods.split(","):
            for seed in (seeds if frac < 1.0 else [0]):
                spec = VARIANTS[name]
                key = f"{name}_f{frac:g}" + (f"_s{seed}" if seed else "")
                path = work / f"{key}.pt"
                if not path.is_file():
                    spec = dict(spec)
                    harden(teacher_path, pool, student=args.student, student_kwargs=student_kwargs, out=path,
                           method=spec.pop("method"), inputs={"data_fraction": frac},
                           run={"epochs": epochs, "seed": seed, "device": args.device},
                           settings={"gamma": args.gamma, "lambdas": args.lambdas, **spec,
                                     "attack": {"eps": eps, "steps": args.attack_steps, "step_size": step}})
                side = json.loads(path.with_suffix(".json").read_text())
                figures = side["figures"]
                # seconds per epoch from the median epoch's images/s: robust to another process sharing the CPU
                ips = statistics.median(h["images_per_s"] for h in side["history"])
                figures["median_seconds_per_epoch"] = side["settings"]["train_images"] / ips
                ev = evaluation(key, path, with_aa=frac == 1.0)
                results[key] = {"figures": figures, "eval": ev, "seed": seed, "fraction": frac, "epochs": epochs}
                if frac == 1.0 and args.blackbox:
                    results[key]["blackbox"] = blackbox(key, path)
                if frac < 1.0:
                    limited.setdefault(f"{name}_f{frac:g}", {"method": name, "fraction": frac, "epochs": epochs,
                                                              "runs": {}})["runs"][seed] = ev["accuracy"]
                else:
                    add_row(name, frac, ev, figures["median_seconds_per_epoch"])
    for suffix, label, steps in (("rml", "RML protect", 0), ("rml_adv", "robust RML protect", args.attack_steps)):
        for name in [m for m in args.protect.split(",") if m]:
            key = f"{name}_f1"
            src = work / f"{key}.pt"
            if not src.is_file():
                continue
            path = work / f"{key}_{suffix}.pt"
            if not path.is_file():
                shieldkit.protect(src, pool, out=path, method="rml",
                                  run={"epochs": 3, "lr": 0.01, "device": args.device},
                                  settings={"attack": {"eps": eps, "steps": steps, "step_size": step}})
            ev = evaluation(f"{key}_{suffix}", path, with_aa=True)
            results[f"{key}_{suffix}"] = {"figures": json.loads(path.with_suffix(".json").read_text())["figures"],
                                          "eval": ev}
            add_row(f"{name} + {label}", 1.0, ev, None)
    kd_rows = []
    if args.kd:
        from shieldkit.verify import kd_probe, train_baselines
        from shieldkit.verify.budgets import budget_configs

        kd_cfg = budget_configs("quick")[0]
        cache = work / "kd_probe.json"
        kd = json.loads(cache.read_text()) if cache.is_file() else {}
        baselines = None
        for key in ("ard_f1", "ard_f1_rml", "ard_f1_rml_adv"):
            if key not in kd and (work / f"{key}.pt").is_file():
                baselines = baselines or train_baselines(pool, kd_cfg)
                model, _ = load_model(work / f"{key}.pt")
                probe = kd_probe(model, pool, kd_cfg, baselines=baselines)
                kd[key] = {"kd_gain": probe["kd_gain"], "deciding_attacker": probe["deciding_attacker"],
                           "hard_label_accuracy": probe["hard_label_accuracy"]}
                write_json(kd, cache)
            if key in kd:
                kd_rows.append([key, f"{kd[key]['hard_label_accuracy']:.2f}", f"{kd[key]['kd_gain']:+.2f} ({kd[key]['deciding_attacker']})"])
        results["kd_probe"] = {"settings": "verify quick budget on the 10k pool", **kd}

    head = ["method", "data", "clean", "FGSM", "PGD-20", "CW∞", f"AA (n={args.aa_n})", "s/epoch"]
    table = markdown_table(head, rows)
    if limited:
        lim_rows = []
        for key, entry in limited.items():
            summary = {a: seed_summary([r[a] for r in entry["runs"].values()]) for a in ("clean", "pgd20", "cw")}
            entry["summary"] = summary
            lim_rows.append([entry["method"], f"{100 * entry['fraction']:g}%", str(entry["epochs"]),
                             str(len(entry["runs"]))] +
                            [f"{summary[a]['mean']:.2f} ± {summary[a]['std']:.2f}" for a in ("clean", "pgd20", "cw")])
        results["limited_data"] = limited
        table += (f"\n\nLimited data (mean ± std over seeds {args.seeds}; n = {args.eval_n} test images):\n\n" +
                  markdown_table(["method", "data", "epochs", "seeds", "clean", "PGD-20", "CW∞"], lim_rows))
    if args.blackbox:
        bb_rows = [[key.removesuffix("_f1"), f"{r['blackbox']['accuracy']['clean']:.2f}",
                    f"{r['blackbox']['accuracy']['square']:.2f}", f"{r['blackbox']['accuracy']['transfer']:.2f}"]
                   for key, r in results.items() if isinstance(r, dict) and "blackbox" in r]
        table += (f"\n\nBlack-box (n = {args.eval_n}; Square {args.square_queries} queries; transfer: PGD-20 crafted on "
                  f"a separately trained ResNet-8 PGD-AT surrogate):\n\n" +
                  markdown_table(["model", "clean", "Square", "transfer"], bb_rows))
    if kd_rows:
        table += "\n\nKD probe (verify's quick budget, CNN3-16 students on the pool's attacker split):\n\n" + \
            markdown_table(["model", "hard-label student", "KD gain (best)"], kd_rows)
    print(table)
    write_json({"settings": vars(args), "pool_images": len(pool.train), "environment": environment(),
                "results": results, "table": table, "seconds": time.perf_counter() - t_start}, args.json)


if __name__ == "__main__":
    main()

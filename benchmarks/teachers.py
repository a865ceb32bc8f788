"""The teacher zoo: the realistic teachers every benchmark distils, trained once on these cores and cached.

Each teacher is one ``shieldkit.train`` call with the recipe in :data:`TEACHERS` (declared here, before any run
that judges it). Weights live in ``--work`` (outside the repository, default ``~/.cache/shieldkit/teachers``);
the recipe, the settings each run recorded, its figures and its wall time go to ``--json``
(``benchmarks/results/teachers.json``). An interrupted run resumes from ``NAME.pt.resume`` (the engine writes
it after every epoch); a finished teacher is read back, not retrained; a deleted cache is rebuilt by the same
recipe.

    python benchmarks/teachers.py --only cifar10-resnet20          # ~30 min on 2 cores (bf16 autocast on AMX)
    python benchmarks/teachers.py --only cifar100-resnet20 --data-dir DIR   # DIR: unpack_cifar100.py --out DIR

CIFAR-10 comes from ``cifar10.npz`` (``$SHIELDKIT_DATA_DIR`` or ``../shared/data``), CIFAR-100 from the directory
``../shared/data/unpack_cifar100.py --out DIR`` writes. Neither is downloaded. No label smoothing: a
label-smoothed teacher's soft outputs are flatter, which would confound every KD measurement made against it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table  # noqa: E402

# name -> (the train() call's arguments, the target test accuracy in %)
TEACHERS = {
    "cifar10-resnet20": (dict(data="cifar10", arch="resnet20", epochs=40, lr=0.1, batch_size=128,
                              weight_decay=5e-4, schedule="cosine", seed=0), 90.0),
    "cifar100-resnet20": (dict(data="cifar100", arch="resnet20", epochs=40, lr=0.1, batch_size=128,
                               weight_decay=5e-4, schedule="cosine", seed=0), 65.0),
}


def data_dir_for(name: str, given: str | None) -> str:
    if given:
        return given
    env = os.environ.get("SHIELDKIT_DATA_DIR")
    if env:
        return env
    return str(Path(__file__).resolve().parents[2] / "shared" / "data")


def run_teacher(name: str, work: Path, data_dir: str) -> dict:
    import shieldkit

    kwargs, target = TEACHERS[name]
    out = work / f"{name}.pt"
    sidecar = work / f"{name}.json"
    if out.is_file() and sidecar.is_file():
        record = json.loads(sidecar.read_text())
        print(f"{name}: cached ({out})")
    else:
        resume = Path(str(out) + ".resume").is_file()
        print(f"{name}: training{' (resuming)' if resume else ''} -> {out}")
        t0 = time.perf_counter()
        shieldkit.train(kwargs["arch"], kwargs["data"], out=out, data_dir=data_dir, resume=resume,
                        **{k: v for k, v in kwargs.items() if k not in ("arch", "data")})
        print(f"{name}: {time.perf_counter() - t0:.0f} s in this invocation")
        record = json.loads(sidecar.read_text())
    history = record.get("history") or []
    figures = record["figures"]
    return {"recipe": kwargs, "target_accuracy": target, "test_accuracy": figures["test_accuracy"],
            "met": figures["test_accuracy"] >= target,
            "train_seconds": sum(h.get("seconds", 0.0) for h in history) or figures.get("train_seconds"),
            "epochs": len(history), "precision": record["settings"]["train"]["precision"],
            "images_per_s": [round(h["images_per_s"]) for h in history],
            "test_accuracy_per_epoch": [round(h["test_accuracy"], 2) for h in history if "test_accuracy" in h],
            "weights": str(out), "settings": record["settings"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=list(TEACHERS), help="train only this teacher (repeatable)")
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/shieldkit/teachers"))
    ap.add_argument("--data-dir", default=None, help="where cifar10.npz / the unpacked CIFAR-100 live")
    ap.add_argument("--json", default="benchmarks/results/teachers.json")
    args = ap.parse_args()

    from shieldkit.utils import configure_threads, write_json

    configure_threads()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = Path(args.json)
    results = json.loads(path.read_text()) if path.is_file() else {"teachers": {}}
    for name in args.only or list(TEACHERS):
        results["teachers"][name] = run_teacher(name, work, data_dir_for(name, args.data_dir))
        results["environment"] = environment()
        results["command"] = "python benchmarks/teachers.py"
        write_json(results, path)
    rows = [[n, r["recipe"]["data"], r["recipe"]["arch"], r["epochs"], r["precision"], f"{r['test_accuracy']:.2f}",
             f"≥ {r['target_accuracy']:g}: {'met' if r['met'] else 'NOT met'}", f"{r['train_seconds'] / 60:.1f} min"]
            for n, r in results["teachers"].items()]
    print(markdown_table(["teacher", "data", "arch", "epochs", "precision", "test acc %", "target", "train time"],
                         rows))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""The design card's first command on real CIFAR-100: ``shieldkit protect teacher.pt --data cifar100``, then
``export`` and ``verify``, run as the CLI commands a user types, on the zoo's CIFAR-100 teacher.

Stages (each cached in ``--work``, outside the repository; an interrupted run picks up at the first stage whose
output is missing, and a deleted cache is rebuilt by the same commands):

1. the teacher: ``benchmarks/teachers.py --only cifar100-resnet20`` (its recipe and figures are in
   ``benchmarks/results/teachers.json``);
2. ``shieldkit protect TEACHER --data cifar100 --out protected.pt`` with every default;
3. ``shieldkit export`` of the teacher (its logits) and of the protected model (its default head);
4. ``shieldkit verify`` of the protected artefact with the teacher's artefact as ``--reference``, default policy
   and ``--budget quick``; the exit code, the report and the wall time of each command are kept.

    python benchmarks/cifar100_pipeline.py --data-dir DIR     # DIR: unpack_cifar100.py --out DIR

Writes ``--json`` (default ``benchmarks/results/cifar100_pipeline.json``): accuracy of both models, the drop,
and each seat's worst attacker, gain, 95 % upper bound and verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table  # noqa: E402


def shieldkit(*args, log: Path) -> tuple[int, float]:
    """Run one CLI command (this interpreter's shieldkit), its output appended to ``log``; (exit code, seconds)."""
    cmd = [sys.executable, "-m", "shieldkit.cli", *map(str, args)]
    print("$ shieldkit " + " ".join(map(str, args)), flush=True)
    t0 = time.perf_counter()
    with open(log, "a") as fh:
        fh.write("$ shieldkit " + " ".join(map(str, args)) + "\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT).returncode
    return rc, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/shieldkit/cifar100_pipeline"))
    ap.add_argument("--teachers", default=os.path.expanduser("~/.cache/shieldkit/teachers"))
    ap.add_argument("--data-dir", default=os.environ.get("SHIELDKIT_DATA_DIR"))
    ap.add_argument("--budget", default="quick")
    ap.add_argument("--json", default="benchmarks/results/cifar100_pipeline.json")
    args = ap.parse_args()
    if not args.data_dir or not (Path(args.data_dir) / "cifar100.npz").is_file():
        raise SystemExit("error: --data-dir must hold cifar100.npz (python3 ../shared/data/unpack_cifar100.py --out DIR)")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "commands.log"
    times_path = work / "times.json"
    times = json.loads(times_path.read_text()) if times_path.is_file() else {}
    teacher = Path(args.teachers) / "cifar100-resnet20.pt"
    if not teacher.is_file():
        raise SystemExit(f"error: no teacher at {teacher}: run python benchmarks/teachers.py --only cifar100-resnet20")
    data = ["--data", "cifar100", "--data-dir", args.data_dir]

    def stage(name, out: Path, *cmd, ok=(0,)):
        if out.exists() and name in times:
            return times[name]
        rc, seconds = shieldkit(*cmd, log=log)
        if rc not in ok:
            raise SystemExit(f"error: {name} exited {rc}; see {log}")
        times[name] = {"seconds": seconds, "exit_code": rc, "command": "shieldkit " + " ".join(map(str, cmd))}
        times_path.write_text(json.dumps(times, indent=2))
        return times[name]

    stage("protect", work / "protected.pt", "protect", teacher, *data, "--out", work / "protected.pt")
    stage("export_original", work / "original.artefact", "export", teacher, *data, "--out", work / "original.artefact")
    stage("export_protected", work / "protected.artefact", "export", work / "protected.pt", *data, "--out",
          work / "protected.artefact")
    verify = stage("verify", work / "report.json", "verify", work / "protected.artefact", *data, "--reference",
                   work / "original.artefact", "--budget", args.budget, "--report", work / "report.json",
                   ok=(0, 1, 3))
    report = json.loads((work / "report.json").read_text())
    protected = json.loads((work / "protected.json").read_text())
    figures = protected["figures"]
    seats = {name: {"verdict": s.get("verdict"), "kd_attacker": s["figures"]["kd_attacker"],
                    "kd_gain": s["figures"]["kd_gain"], "kd_gain_upper": s["figures"]["kd_gain_upper"],
                    "baseline": s["figures"]["baseline"], "baseline_accuracy": s["figures"]["baseline_accuracy"]}
             for name, s in report["seats"].items()}
    result = {"command": "python benchmarks/cifar100_pipeline.py", "budget": args.budget,
              "teacher": str(teacher), "original_accuracy": figures.get("original_test_accuracy"),
              "protected_accuracy": figures.get("protected_test_accuracy"), "accuracy_drop": figures.get("accuracy_drop"),
              "artefact_accuracy": report["figures"].get("accuracy"), "verdict": report["verdict"],
              "verify_exit_code": verify["exit_code"], "seats": seats, "power": report.get("power"),
              "kd_settings": report["attacks"]["kd"]["settings"], "times": times, "environment": environment()}
    Path(args.json).write_text(json.dumps(result, indent=2))
    rows = [[seat, f"{s['kd_gain']:+.2f} (≤ {s['kd_gain_upper']:+.2f})", s["kd_attacker"], s["verdict"]]
            for seat, s in seats.items()]
    print(f"original {result['original_accuracy']:.2f} %, protected {result['protected_accuracy']:.2f} %, "
          f"drop {result['accuracy_drop']:+.2f}; verdict {result['verdict']}")
    print(markdown_table(["seat", "KD gain (95 % upper)", "deciding attacker", "seat verdict"], rows))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

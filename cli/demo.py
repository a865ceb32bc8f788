"""``shieldkit demo``, a CLI workflow: train -> protect (RML) -> export -> verify, original vs protected, on digits.

Runs on scikit-learn's bundled digits (no files needed) in a few minutes on 2 CPU cores. Both
models are exported (the protected one with the output head ``protect`` records, and without its plain weights),
and each artefact is attacked through ONNX Runtime with the KD probe at both seats: ``answer`` (the graph as
shipped) and ``file`` (the graph cut below its head, what a device holder reaches). The original artefact is the
reference of both runs, so each verdict has shown the probe's power; the default policy's ``max_kd_gain`` is gated
at both seats. Students shared by the runs (the label-only ones, the reference's) are trained once.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shieldkit import protect, train
from shieldkit.data import Dataset, load_dataset
from shieldkit.outputs import check_output_dir
from shieldkit.run_settings import RunSettings
from shieldkit.errors import InputError
from shieldkit.utils import read_json, write_json

from shieldkit.exporters import export
from shieldkit.methods.rml import DEFAULT_RECIPE
from shieldkit.verify import KDProbeConfig, Policy, Thresholds, verify
from shieldkit.verify.kd import StudentMemo


@dataclass
class DemoConfig:
    arch: str = "resnet8"
    teacher_epochs: int = 15
    teacher_lr: float = 0.05
    protect_epochs: int = 5
    recipe: str = DEFAULT_RECIPE
    max_kd_gain: float = 0.5
    max_recorded_accuracy_drop: float | None = 3.0  # the release gate's default: protection must keep accuracy
    probe: KDProbeConfig = field(default_factory=lambda: KDProbeConfig(
        families=("cnn3-8", "cnn3-16"), epochs=30, batch_size=64, attacker_fraction=0.2, taus=(1.0, 4.0),
        unmirror=True, recalibrate=True, seeds=(0, 1, 2)))


def smoke_config() -> DemoConfig:
    """The demo in seconds (1 epoch everywhere, 2 seeds, one small student family): checks the wiring only."""
    return DemoConfig(teacher_epochs=1, protect_epochs=1, max_recorded_accuracy_drop=None,
                      probe=KDProbeConfig(families=("cnn3-8",), epochs=1, batch_size=64, taus=(4.0,), seeds=(0, 1)))


def run_demo(cfg: DemoConfig | None = None, *, data: Dataset | None = None, out_dir: str | Path | None = None,
             progress: bool = True, seed: int = 0, log=None) -> dict[str, Any]:
    """Train a teacher, protect it with RML, export both, verify both artefacts; return the figures
    (and write models, artefacts, reports and ``demo.json`` to ``out_dir``)."""
    say = log or (lambda msg: None)
    check_output_dir(out_dir, "--out-dir")
    cfg = cfg or DemoConfig()
    ds = data or load_dataset("digits")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(out_dir) if out_dir else Path(tmp)
        say(f"1/4 train {cfg.arch} on {ds.name}")
        original = train(cfg.arch, ds, out=out / "original.pt",
                         run=RunSettings(epochs=cfg.teacher_epochs, lr=cfg.teacher_lr, seed=seed, progress=progress))
        say(f"2/4 protect it with RML (recipe {cfg.recipe})")
        protect(out / "original.pt", ds, out=out / "protected.pt", method="rml", settings=cfg.recipe,
                run=RunSettings(epochs=cfg.protect_epochs, seed=seed, progress=progress))
        say("3/4 export both to ONNX (manifest, parity; the protected graph with its head)")
        for name in ("original", "protected"):
            export(out / f"{name}.pt", out / f"{name}.artefact", data=ds, overwrite=True, parity={"n": len(ds.test)})
        say("4/4 verify both artefacts through ONNX Runtime (KD probe at the answer and file seats, the original "
            "as reference)")
        policy = Policy(Thresholds(max_kd_gain=cfg.max_kd_gain, max_recorded_accuracy_drop=cfg.max_recorded_accuracy_drop))
        rows = {}
        memo = StudentMemo()
        for name in ("original", "protected"):
            r = verify(out / f"{name}.artefact", ds, policy=policy, reference=out / "original.artefact",
                       probe={"kd_config": cfg.probe, "probes": ["kd"], "memo": memo}, progress=progress)
            if out_dir:
                write_json(r.report, out / f"{name}.report.json")
            rows[name] = r.report
    import torch

    result = {"dataset": ds.describe(), "rows": rows, "seconds": time.perf_counter() - t0,
              "command": "shieldkit demo" + (f" --seed {seed}" if seed else ""),
              "environment": {"torch": torch.__version__, "threads": torch.get_num_threads()},
              "settings": {**{k: v for k, v in asdict(cfg).items() if k != "probe"}, "probe": asdict(cfg.probe),
                           "seed": seed},
              "original_train_accuracy": original.figures["test_accuracy"]}
    if out_dir:
        write_json(result, Path(out_dir) / "demo.json")
    return result


def load_demo(path: str | Path) -> dict[str, Any]:
    """A ``demo.json`` that :func:`run_demo` wrote (for ``shieldkit demo --render``); anything else is one
    InputError naming what is missing."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--render: {path} is not a file (give the demo.json that `shieldkit demo --out-dir` wrote)")
    result = read_json(path)
    rows = result.get("rows") if isinstance(result, dict) else None
    if not isinstance(rows, dict) or not rows or not all(isinstance(r, dict) and "seats" in r for r in rows.values()):
        raise InputError(f"--render: {path} is not a demo.json of this shieldkit (no per-seat rows): run "
                         f"`shieldkit demo --out-dir DIR` to write one")
    return result

"""Helpers shared by the benchmark scripts: finding the data, printing tables, writing JSON."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cifar10_path() -> Path:
    """``$SHIELDKIT_DATA_DIR/cifar10.npz``, else ``../shared/data/cifar10.npz`` beside the project."""
    d = os.environ.get("SHIELDKIT_DATA_DIR")
    return Path(d) / "cifar10.npz" if d else ROOT.parent / "shared" / "data" / "cifar10.npz"


def require_cifar10() -> Path:
    p = cifar10_path()
    if not p.is_file():
        print(f"CIFAR-10 not found at {p}: set SHIELDKIT_DATA_DIR to the folder holding cifar10.npz", file=sys.stderr)
        sys.exit(2)
    return p


def setup_cifar10(work: str | Path | None = None):
    """Threads set for this machine, CIFAR-10 loaded from ``cifar10_path()``, and ``work`` created: the
    opening of every CIFAR-10 benchmark. Returns ``(dataset, work path or None)``."""
    from shieldkit.data import load_dataset
    from shieldkit.utils import configure_threads

    configure_threads()
    data = load_dataset(str(require_cifar10()))
    data.name = "cifar10"
    if work is not None:
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
    return data, work


def environment() -> dict:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "machine": platform.machine(), "cpus": os.cpu_count()}


def markdown_table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def images_per_second(fn, batch, seconds: float) -> float:
    """Images/s of ``fn(batch)`` repeated for ``seconds`` after one warm-up call."""
    import time

    fn(batch)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(batch)
        n += len(batch)
    return n / (time.perf_counter() - t0)


def alternating_median(engines: dict, rounds: int, seconds: float) -> dict[str, float]:
    """Median images/s per engine over ``rounds``; engines ``{name: (fn, batch)}`` take turns each round, so
    drift on a shared machine hits them all alike (ratios between them are the robust figure)."""
    import statistics

    samples: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, (fn, batch) in engines.items():
            samples[name].append(images_per_second(fn, batch, seconds))
    return {name: statistics.median(v) for name, v in samples.items()}


def seed_summary(values: list[float]) -> dict:
    """Mean, sample std and the one-sided 95 % Student-t bounds over per-seed values (paired differences, say)."""
    import math
    import statistics

    from shieldkit.verify.kd import t95

    n = len(values)
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if n > 1 else 0.0
    half = t95(n - 1) * std / math.sqrt(n) if n > 1 else math.inf
    return {"mean": mean, "std": std, "upper95": mean + half, "lower95": mean - half, "runs": list(values)}

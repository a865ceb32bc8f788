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


def environment() -> dict:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "machine": platform.machine(), "cpus": os.cpu_count()}


def markdown_table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)

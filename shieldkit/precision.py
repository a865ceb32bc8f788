"""Which arithmetic a training step runs in: ``fp32``, or ``bf16`` autocast (weights and gradients stay fp32).

``auto`` picks bf16 where the hardware computes it natively and fp32 elsewhere:

- CUDA: bf16 when ``torch.cuda.is_bf16_supported()``;
- CPU: bf16 when the CPU advertises ``amx_bf16`` or ``avx512_bf16`` (Linux ``/proc/cpuinfo``). A CPU
  without them would emulate bf16 and run slower than fp32, so it keeps fp32.

The environment variable ``SHIELDKIT_PRECISION`` (``fp32`` or ``bf16``) replaces that choice for
``auto``; the test suite sets it to ``fp32`` so its figures do not depend on the CPU it runs on.

Only training steps are affected. Evaluation (``predict_logits``, accuracy, parity) stays fp32 on the
CPU, so a measured accuracy does not depend on the precision a model was trained in. Where the speed-up
comes from and how large it is per architecture: ``benchmarks/results/throughput.json``.
"""

from __future__ import annotations

import contextlib
import functools
import os

import torch

from .errors import InputError

PRECISIONS = ("auto", "fp32", "bf16")
ENV = "SHIELDKIT_PRECISION"
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of the first processor in ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware (see the module docstring)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return any(f in cpu_flags() for f in CPU_BF16_FLAGS)
    return False


def check_precision(name: str) -> str:
    if name not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    return name


def resolve_precision(requested: str, device: torch.device) -> str:
    """``fp32`` or ``bf16``: ``requested`` itself, or for ``auto`` the environment's choice, else the hardware's."""
    check_precision(requested)
    if requested != "auto":
        return requested
    env = os.environ.get(ENV, "").strip()
    if env:
        if env not in ("fp32", "bf16"):
            raise InputError(f"{ENV} must be fp32 or bf16, got {env!r}")
        return env
    return "bf16" if native_bf16(device) else "fp32"


def train_autocast(device: torch.device, precision: str):
    """The autocast context of a training step: bf16 on ``device`` for ``bf16``, nothing for ``fp32``."""
    if precision == "bf16" and device.type in ("cpu", "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()

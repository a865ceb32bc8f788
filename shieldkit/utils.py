"""Small shared helpers: devices, threads, seeding, atomic file writes, JSON settings."""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .errors import InputError
from .outputs import disk_error


def configure_threads(n: int | None = None) -> int:
    """Use one intra-op thread per CPU core this process may run on (or ``n``); under torchrun the cores
    are shared among the node's processes. A user's ``OMP_NUM_THREADS`` (or ``SHIELDKIT_NUM_THREADS``) wins."""
    for var in ("SHIELDKIT_NUM_THREADS", "OMP_NUM_THREADS"):
        if n is None and os.environ.get(var, "").strip().isdigit() and int(os.environ[var]) > 0:
            n = int(os.environ[var])
    if n is None:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        n //= max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; an unknown or unavailable device is an
    :class:`~shieldkit.errors.InputError`."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"unknown device {str(device)!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {str(device)!r} asked for, but CUDA is not available here: use --device cpu "
                             f"(or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type not in ("cpu", "mps"):
        raise InputError(f"unsupported device {str(device)!r}: use auto, cpu, cuda or cuda:N")
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def umask_mode(directory: bool = False) -> int:
    """The mode ``open()``/``mkdir()`` would give a new file/directory under this process's umask
    (``mkstemp``/``mkdtemp`` use 0600/0700, which breaks "build as one user, serve as another")."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, on error removed.

    An OS error while writing (a full disk, a directory in the way) becomes one
    :class:`~shieldkit.errors.InputError` line that names ``path``; ``path`` itself is left as it was."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise disk_error(e, path) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            os.chmod(tmp_path, umask_mode())
        os.replace(tmp_path, path)
    except OSError as e:
        raise disk_error(e, path) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save(obj)`` to ``path`` atomically. The archive is built in memory and written with one plain file
    write: torch's zip writer, writing to a file itself, turns a real write failure (a file-size limit, a full disk)
    into a ``RuntimeError`` ("unexpected pos ..."), while a plain write raises the ``OSError`` that
    :func:`atomic_path` reports as one line."""
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())


def to_jsonable(obj: Any) -> Any:
    if callable(getattr(obj, "to_dict", None)):  # a typed record (e.g. shieldkit.verify.VerificationReport)
        return to_jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def read_json(path: str | Path, error: type[InputError] = InputError) -> Any:
    """The JSON document at ``path``; a file that is not JSON raises ``error`` naming it (one line)."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{path} is not valid JSON ({e})") from None


def write_json(obj: Any, path: str | Path) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(obj), indent=2) + "\n")


def sidecar_json(path: str | Path) -> Path:
    """``model.pt`` -> ``model.json``: where a run writes its settings and figures."""
    path = Path(path)
    return path.with_suffix(".json") if path.suffix != ".json" else path.with_suffix(".run.json")

"""Output paths checked before any work: a run that trains for an hour must not then fail on its ``--out``.

:func:`check_output_file` is called at the start of every command that writes a file (``train``,
``protect``, ``harden``, ``verify --report``, ``evaluate --report``), :func:`check_output_dir` for
commands that write a directory (``export``, ``demo``). Both raise :class:`~shieldkit.errors.InputError`
with the path and what is wrong; nothing is created by the check.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import InputError


def _writable_parent(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` must be a directory this process can write into."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{option} {path}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: directory {parent} is not writable")


def check_output_file(path: str | Path | None, option: str = "--out") -> None:
    """``path`` can be written as a file: not an existing directory, in a writable directory."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path} is a directory; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{option} {path} exists and is not writable")
    _writable_parent(path, option)


def check_output_dir(path: str | Path | None, option: str = "--out") -> None:
    """``path`` can be written as a directory: not an existing file, in a writable directory."""
    if path is None:
        return
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file, not a directory")
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: directory is not writable")
    _writable_parent(path, option)


def disk_error(e: OSError, path: str | Path) -> InputError:
    """An OS error met while writing ``path``, as one line that names the path (e.g. the disk is full)."""
    reason = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
    return InputError(f"could not write {path}: {reason}")

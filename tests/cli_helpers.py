"""Helpers shared by the CLI tests: invoke the Typer app, read its one error line, snapshot a directory, and put a
``shieldkit`` command on PATH for scripts run as written."""

import hashlib
import sys
from pathlib import Path

from typer.testing import CliRunner

from shieldkit.cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(result):
    out = result.output.strip()
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert errors, out
    return " ".join(lines[errors[0]:])  # a long line may wrap in the terminal rendering


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` by its sha256 (directories as "dir"): equal snapshots mean nothing changed."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def shieldkit_shim(directory: Path) -> Path:
    """``directory/bin/shieldkit``, running this interpreter's ``shieldkit.cli``; returns the bin directory."""
    shim = directory / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "shieldkit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m shieldkit.cli "$@"\n')
    (shim / "shieldkit").chmod(0o755)
    return shim

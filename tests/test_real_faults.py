"""Real faults, not patched ones: every command that writes meets a real file-size limit, a real full filesystem
and a directory that turns read-only mid-run, and each time says one ``error:`` line, exits 2, leaves nothing
half-written and keeps an earlier output byte for byte.

- **File-size limit**: ``RLIMIT_FSIZE`` set in the child (Python ignores ``SIGXFSZ``, so a write past it fails
  with ``EFBIG``), for train, protect, harden, export, sign and each of verify's outputs.
- **Full filesystem**: a tmpfs of a few KiB mounted for the test (``ENOSPC``); needs root and ``mount``.
- **Read-only mid-run**: the output directory's tmpfs remounted read-only after the first epoch's resume file
  (``EROFS``); needs root and ``mount``.

The patched ``OSError`` of ``tests/test_failures.py`` missed one of these: torch's zip writer turns a real write
failure into ``RuntimeError: [enforce fail at inline_container.cc] unexpected pos``, which was a traceback with
exit 1 (now written from memory with one plain write: ``shieldkit.utils.atomic_torch_save``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import snapshot

pytestmark = pytest.mark.slow

EARLIER = b"an earlier output that must survive\n"


def cli(*args, limit: int | None = None, timeout: int = 300, wait: bool = True):
    def preexec():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cmd = [sys.executable, "-m", "shieldkit.cli", *map(str, args)]
    env = {**os.environ, "SHIELDKIT_PROGRESS_SECONDS": "3600"}
    if not wait:
        return subprocess.Popen(cmd, preexec_fn=preexec, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
    return subprocess.run(cmd, preexec_fn=preexec, capture_output=True, text=True, timeout=timeout, env=env)


def assert_one_line(r, code: int, words: str) -> str:
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert r.returncode == code, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr and len(errors) == 1, r.stderr[-3000:]
    assert words in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A trained checkpoint, its artefact (no head: one seat, so verify writes nothing before its outputs) and a
    signing key; read-only for the cases."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from shieldkit import train
    from shieldkit.exporters import export

    d = tmp_path_factory.mktemp("world")
    train("cnn3", "digits", epochs=1, out=d / "model.pt", progress=False)
    export(d / "model.pt", d / "artefact", data="digits", n=64)
    key = ec.generate_private_key(ec.SECP256R1())
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d


VERIFY = ("verify", "{w}/artefact", "--data", "digits", "--budget", "smoke", "--max-kd-gain", "1000")
# (case, arguments ({w}: the world, {o}: the output directory), the earlier output kept, file-size limit in bytes)
WRITERS = [
    ("train", ("train", "--data", "digits", "--arch", "cnn3", "--epochs", "1", "--out", "{o}/keep.pt"), "keep.pt",
     4096),
    ("protect", ("protect", "{w}/model.pt", "--data", "digits", "--epochs", "1", "--out", "{o}/keep.pt"), "keep.pt",
     4096),
    ("harden", ("harden", "--teacher", "{w}/model.pt", "--data", "digits", "--student", "cnn3", "--epochs", "1",
                "--steps", "1", "--n", "0", "--out", "{o}/keep.pt"), "keep.pt", 4096),
    ("export", ("export", "{w}/model.pt", "--data", "digits", "--n", "32", "--overwrite", "--out",
                "{o}/artefact"),
     "artefact/manifest.json", 4096),
    ("sign", ("sign", "{o}/artefact", "--key", "{w}/key.pem"), "artefact/model.sig", 64),
    ("verify-report", (*VERIFY, "--report", "{o}/r.json"), "r.json", 256),
    ("verify-summary", (*VERIFY, "--summary", "{o}/s.md"), "s.md", 256),
    ("verify-junit", (*VERIFY, "--junit", "{o}/j.xml"), "j.xml", 256),
    ("verify-plot", (*VERIFY, "--plot", "{o}/p.png"), "p.png", 256),
    ("verify-model-card", (*VERIFY, "--model-card", "{o}/card.md"), "card.md", 256),
]


def prepare(world: Path, out: Path, kept: str) -> None:
    """The output directory before the run: an earlier output at ``kept`` (a whole artefact for export and sign)."""
    if kept.startswith("artefact/"):
        shutil.copytree(world / "artefact", out / "artefact")
    (out / kept).parent.mkdir(parents=True, exist_ok=True)
    (out / kept).write_bytes(EARLIER)


@pytest.mark.parametrize("case", WRITERS, ids=[c[0] for c in WRITERS])
def test_a_file_size_limit(case, world, tmp_path):
    name, args, kept, limit = case
    out = tmp_path / "out"
    out.mkdir()
    prepare(world, out, kept)
    if name == "export":
        (out / "artefact" / "manifest.json").write_bytes(EARLIER)
    before, world_before = snapshot(out), snapshot(world)
    r = cli(*(a.format(w=world, o=out) for a in args), limit=limit)
    line = assert_one_line(r, 2, "File too large")
    assert line.startswith("error: could not write "), line  # and it names what it could not write
    assert snapshot(out) == before, set(snapshot(out)) ^ set(before)  # nothing half-written, the earlier one kept
    assert snapshot(world) == world_before


def _mount_tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount): {r.stderr.strip()}")


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full or read-only filesystem needs root and mount")
    _mount_tmpfs(path, size)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("case", [c for c in WRITERS if c[0] in ("train", "verify-report")], ids=lambda c: c[0])
def test_a_full_filesystem(case, world, tmp_path):
    """A real ENOSPC: the output directory is a tmpfs that holds the earlier output and only a few KiB more."""
    name, args, kept, _ = case
    with tmpfs(tmp_path / "small", "256k") as out:
        prepare(world, out, kept)
        st = os.statvfs(out)
        (out / "filler").write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - 8192))
        before = snapshot(out)
        r = cli(*(a.format(w=world, o=out) for a in args))
        assert_one_line(r, 2, "the disk is full")
        assert snapshot(out) == before, set(snapshot(out)) ^ set(before)


def test_a_directory_turns_read_only_mid_run(world, tmp_path):
    """Training writes its resume file after every epoch; once the first is there, the filesystem turns read-only
    (``mount -o remount,ro``). The run ends with one line and exit 2, and the earlier checkpoint is intact."""
    with tmpfs(tmp_path / "ro", "64m") as out:
        (out / "keep.pt").write_bytes(EARLIER)
        p = cli("train", "--data", "digits", "--arch", "resnet8", "--epochs", "4", "--out", out / "keep.pt",
                wait=False)
        deadline = time.time() + 240
        while not (out / "keep.pt.resume").exists() and p.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert (out / "keep.pt.resume").exists(), "no resume file appeared"
        subprocess.run(["mount", "-o", "remount,ro", str(out)], check=True)
        before = snapshot(out)
        stdout, stderr = p.communicate(timeout=300)
        r = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
        assert_one_line(r, 2, "Read-only file system")
        assert (out / "keep.pt").read_bytes() == EARLIER and snapshot(out) == before

"""Progress without a terminal: plain lines that CI logs show (rich bars print nothing useful there)."""

import io
import os
import subprocess
import sys

from shieldkit.progress import LineProgress


def test_line_progress_prints_at_its_interval_and_at_the_end():
    out = io.StringIO()
    with LineProgress(out, interval=3600) as bar:
        task = bar.add_task("train cnn3", total=4, stats="")
        for i in range(4):
            bar.update(task, advance=1, stats=f"ep {i + 1}/4 loss {1.0 / (i + 1):.3f}")
    lines = out.getvalue().splitlines()
    assert lines == [lines[-1]] and lines[0].startswith("train cnn3: 4/4 (100%) elapsed 0:00:0")
    assert lines[0].endswith("| ep 4/4 loss 0.250")
    out = io.StringIO()
    bar = LineProgress(out, interval=0)
    task = bar.add_task("probe", total=10, completed=2, stats="")
    bar.update(task, advance=3, stats="seed 0")
    assert out.getvalue().startswith("probe: 5/10 (50%)") and "ETA" in out.getvalue()


def test_cli_without_a_tty_logs_progress_lines(tmp_path):
    """stderr is a pipe, as in CI: the training loop reports in plain lines."""
    r = subprocess.run([sys.executable, "-m", "shieldkit.cli", "train", "--data", "digits", "--arch", "cnn3", "--epochs", "2",
                        "--out", str(tmp_path / "m.pt")], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "SHIELDKIT_PROGRESS_SECONDS": "0"})
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [line for line in r.stderr.splitlines() if line.startswith("train cnn3: ")]
    assert len(lines) >= 10 and lines[-1].startswith("train cnn3: 22/22 (100%)"), r.stderr[-2000:]
    assert "test acc" in lines[-1] and "\x1b[" not in r.stderr  # no terminal escape codes in a log


def test_verify_without_a_tty_logs_progress_lines(tmp_path):
    """The release gate in CI: a verify run with stdout/stderr piped reports the KD probe in plain lines, and the
    --epochs/--seeds flags set the probe (recorded in the report)."""
    import json

    from shieldkit import train
    from shieldkit.exporters import export

    train("cnn3", "digits", epochs=1, progress=False, out=tmp_path / "m.pt", model_kwargs={"width": 4})
    export(tmp_path / "m.pt", tmp_path / "art", data="digits", n=32)
    r = subprocess.run([sys.executable, "-m", "shieldkit.cli", "verify", str(tmp_path / "art"), "--data", "digits",
                        "--budget", "smoke", "--epochs", "2", "--seeds", "3,4", "--max-kd-gain", "1000",
                        "--report", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "SHIELDKIT_PROGRESS_SECONDS": "0"})
    assert r.returncode == 3, r.stderr[-2000:]  # INCONCLUSIVE: no --reference shows the probe's power
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("KD probe")]
    assert any("(100%)" in line for line in lines), r.stderr[-2000:]
    settings = json.loads((tmp_path / "r.json").read_text())["attacks"]["kd"]["settings"]
    assert settings["epochs"] == 2 and list(settings["seeds"]) == [3, 4]

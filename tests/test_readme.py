"""The README's "Your own model" blocks run as written, on digits instead of CIFAR-10 and at the smoke budget (the
only two substitutions), with a user's own network in mypkg/net.py and its weights in my_weights.pt."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import shieldkit_shim

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

NET = '''
from torch import nn


def build(num_classes, in_chans=3):
    return nn.Sequential(nn.Conv2d(in_chans, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, num_classes))
'''


def _blocks():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Your own model"):text.index("## What a verdict means")]
    return (re.search(r"```bash\n(.*?)```", section, re.S).group(1),
            re.search(r"```python\n(.*?)```", section, re.S).group(1))


def _user_dir(tmp_path: Path) -> Path:
    import torch

    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "net.py").write_text(NET)
    sys.path.insert(0, str(tmp_path))
    try:
        from mypkg.net import build
        torch.manual_seed(0)
        torch.save(build(10).state_dict(), tmp_path / "my_weights.pt")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mypkg.net", None)
        sys.modules.pop("mypkg", None)
    return tmp_path


def _env(tmp_path):
    shim = shieldkit_shim(tmp_path)
    return {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}", "PYTHONPATH": str(tmp_path)}


def test_the_cli_block_runs(tmp_path):
    bash, _ = _blocks()
    d = _user_dir(tmp_path)
    script = bash.replace("cifar10", "digits").replace("--reference", "--budget smoke --reference")
    script = script.replace("echo $?", "echo exit=$?")
    r = subprocess.run(["bash", "-c", script], cwd=d, env=_env(d), capture_output=True, text=True, timeout=900)
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    code = re.search(r"exit=(\d+)", r.stdout)
    assert code and code.group(1) in ("0", "1", "3"), r.stdout[-2000:] + r.stderr[-3000:]  # a verdict, not an error
    assert (d / "report.json").is_file() and (d / "artefacts" / "protected" / "model.onnx").is_file()


def test_the_python_block_runs(tmp_path):
    _, python = _blocks()
    d = _user_dir(tmp_path)
    code = python.replace('"cifar10"', '"digits"').replace('reference="artefacts/original"',
                                                           'reference="artefacts/original", budget="smoke"')
    r = subprocess.run([sys.executable, "-c", code], cwd=d, env=_env(d), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    assert lines[1] in ("PASS", "FAIL", "INCONCLUSIVE") and {ln.split()[0] for ln in lines[2:]} == {"file", "answer"}

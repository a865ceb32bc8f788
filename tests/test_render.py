"""README figures come from committed JSON: benchmarks/render.py --check passes, and a changed number fails it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_agrees_with_the_committed_results():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "render.py"), "--check"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_a_changed_number_is_caught(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import render

    readme = (ROOT / "README.md").read_text()
    assert render.render(readme) == readme
    data = json.loads((render.RESULTS / "seats_cifar10.json").read_text())
    data["models"]["protected"]["seats"]["file"]["kd_gain"] += 1.0
    data.setdefault("json", "seats_cifar10.json")
    assert render.seats_markdown(data) not in readme and render.rendered("seats") in readme

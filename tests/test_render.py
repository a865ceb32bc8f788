"""Document figures come from committed JSON: benchmarks/render.py --check passes, and a changed number fails it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RENDER = ROOT / "benchmarks" / "render.py"


def _check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RENDER), "--check", "--root", str(root)], capture_output=True,
                          text=True, timeout=120)


def _copy(tmp_path: Path) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import render

    for doc in render.DOCUMENTS:
        (tmp_path / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / doc, tmp_path / doc)
    shutil.copytree(ROOT / "benchmarks" / "results", tmp_path / "benchmarks" / "results")
    return tmp_path


def test_documents_agree_with_the_committed_results():
    r = _check(ROOT)
    assert r.returncode == 0, r.stderr


def test_a_changed_number_in_a_results_json_fails_the_check(tmp_path):
    root = _copy(tmp_path)
    assert _check(root).returncode == 0
    path = root / "benchmarks" / "results" / "seats_cifar10.json"
    data = json.loads(path.read_text())
    data["models"]["protected"]["seats"]["file"]["kd_gain"] += 1.0
    path.write_text(json.dumps(data))
    r = _check(root)
    assert r.returncode == 1 and "README.md disagrees" in r.stderr
    # and rendering repairs it: the rewritten README carries the new number, and the check passes again
    assert subprocess.run([sys.executable, str(RENDER), "--root", str(root)], timeout=120).returncode == 0
    assert _check(root).returncode == 0
    assert f"{data['models']['protected']['seats']['file']['kd_gain']:+.2f}" in (root / "README.md").read_text()


def test_a_changed_timing_fails_the_check_in_the_document_that_quotes_it(tmp_path):
    root = _copy(tmp_path)
    path = root / "benchmarks" / "results" / "seats_cifar10.json"
    data = json.loads(path.read_text())
    data["models"]["protected"]["verify_seconds"] += 100
    path.write_text(json.dumps(data))
    r = _check(root)
    assert r.returncode == 1 and "docs/cli.md disagrees" in r.stderr


def test_a_document_without_a_renderers_section_is_refused(tmp_path):
    root = _copy(tmp_path)
    readme = (root / "docs" / "cli.md").read_text()
    (root / "docs" / "cli.md").write_text(readme.replace("<!-- render:quick_time -->", ""))
    r = _check(root)
    assert r.returncode == 1 and "quick_time" in r.stderr


def test_a_changed_benchmark_table_fails_the_check(tmp_path):
    """``render:table:NAME`` sections quote results/NAME.json's table verbatim (the harden benchmark's here)."""
    root = _copy(tmp_path)
    path = root / "benchmarks" / "results" / "harden_cifar10.json"
    data = json.loads(path.read_text())
    first_row = data["table"].splitlines()[2]
    data["table"] = data["table"].replace(first_row, first_row.replace("|", "| x", 1))
    path.write_text(json.dumps(data))
    r = _check(root)
    assert r.returncode == 1 and "benchmarks/README.md disagrees" in r.stderr

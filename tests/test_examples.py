"""The shipped examples run: the release workflow's steps as written (on digits, smoke budget, with the policy file
committed beside it) and a parse of the Dockerfile (no docker on the test machines: every instruction known, every COPY source present)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import shieldkit_shim

ROOT = Path(__file__).resolve().parents[1]


def workflow_steps() -> list[dict]:
    """The release job's steps, as GitHub Actions reads them (YAML)."""
    import yaml

    doc = yaml.safe_load((ROOT / "examples" / "release.yml").read_text())
    return doc["jobs"]["protect-and-verify"]["steps"], doc["env"]


def _signing_key(private_dir: Path, public_dir: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private_dir.mkdir(parents=True)
    public_dir.mkdir(parents=True)
    (private_dir / "signing.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (public_dir / "release.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def _run_block(block: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """A step's ``run:`` block as written (bash -e, as Actions runs it), shieldkit resolved to this interpreter."""
    shim = shieldkit_shim(cwd)
    env = {**env, "PATH": f"{shim}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-e", "-c", block], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_release_workflow_runs_as_written(tmp_path):
    """Every shieldkit step of examples/release.yml, exactly as written, in the order and under the conditions
    Actions applies: after the gate fails, sign is skipped and only the ``if: failure()`` upload (not under the
    release name) runs. On digits at the smoke budget the gate cannot PASS (two 1-epoch seeds bound nothing: the
    reference's lower bound cannot clear the margin, so the best it can say is INCONCLUSIVE), which is the
    rejection path; the signing step's commands are then run on their own so that they cannot rot either."""
    pytest.importorskip("model_signing", reason="the workflow signs: pip install -e '.[sign]' (or '.[dev]')")
    from shieldkit import train

    train("cnn3", "digits", epochs=3, lr=0.05, progress=False, out=tmp_path / "models" / "classifier.pt")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "release.toml").write_text((ROOT / "examples" / "release.toml").read_text())
    steps, env_defaults = workflow_steps()
    _signing_key(tmp_path / "runner", tmp_path / "keys")  # what the workflow's secret and committed key hold
    env = {**os.environ, **{k: str(v) for k, v in env_defaults.items()}, "DATA": "digits", "BUDGET": "smoke",
           "RUNNER_TEMP": str(tmp_path / "runner")}
    env.pop("SHIELDKIT_DATA_DIR")  # digits are bundled
    ours = [s for s in steps if "shieldkit " in s.get("run", "") or "upload-artifact" in s.get("uses", "")]
    assert [s["name"].split()[0] for s in ours] == ["protect", "export", "verify", "sign", "upload", "upload"]
    failed, ran, codes = False, [], {}
    for step in ours:
        condition = step.get("if", "success()")
        if condition not in ("success()", "failure()", "always()"):
            raise AssertionError(f"unexpected condition {condition}")
        if (condition == "success()" and failed) or (condition == "failure()" and not failed):
            continue
        ran.append(step["name"])
        if "uses" in step:
            continue
        r = _run_block(step["run"], tmp_path, env)
        codes[step["name"].split()[0]] = r.returncode
        if r.returncode != 0:
            failed = True
            assert step["name"].startswith("verify"), (step["name"], r.stderr[-2000:])
            assert r.returncode in (1, 3), r.stderr[-2000:]  # a verdict, not a crash
    report = json.loads((tmp_path / "release" / "verify.json").read_text())
    assert report["verdict"] != "PASS" and codes["verify"] == {"FAIL": 1, "INCONCLUSIVE": 3}[report["verdict"]]
    assert report["reference"] is not None and report["gated_seats"] == ["file", "answer"]
    assert report["policy"].endswith("release.toml")
    names = [n.split()[0] + ("" if "rejected" not in n else "-rejected") for n in ran]
    assert "sign" not in names and ran[-1].startswith("upload what verify found")
    for name in ("artefact/manifest.json", "verify.json", "verify.md", "verify.xml", "students.png", "MODEL_CARD.md"):
        assert (tmp_path / "release" / name).is_file(), name
    assert not (tmp_path / "release" / "artefact" / "model.sig").exists()  # never signed after a failed gate
    # the step a PASS would run, as written
    sign = next(s for s in ours if s["name"].startswith("sign"))
    r = _run_block(sign["run"], tmp_path, {**env, "SIGNING_KEY": (tmp_path / "runner" / "signing.pem").read_text()})
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "release" / "artefact" / "model.sig").is_file()


def _docker_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines (a trailing backslash) joined as docker joins them."""
    out, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not current and (not line.strip() or line.startswith("#")):
            continue
        current += line[:-1] if line.endswith("\\") else line
        if not line.endswith("\\"):
            out.append(current)
            current = ""
    return out


def test_dockerfile_parses():
    instructions = {"FROM", "ENV", "WORKDIR", "RUN", "COPY", "USER", "ENTRYPOINT", "CMD", "ARG", "LABEL"}
    lines = _docker_instructions()
    words = [line.split()[0] for line in lines]
    assert words[0] == "FROM" and set(words) <= instructions, words
    for line in lines:
        if line.startswith("COPY"):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert re.search(r'ENTRYPOINT \["shieldkit"\]', "\n".join(lines))
    assert any("torch==2.14.1" in line and "whl/cpu" in line for line in lines if line.startswith("RUN"))
    assert any("torchattacks" in line for line in lines if line.startswith("RUN"))  # AutoAttack works in the image


def test_docker_image_installs_the_cpu_onnx_runtime_from_the_projects_own_list(tmp_path):
    """The image says CPU-only: its requirements are pyproject's, with onnxruntime in place of onnxruntime-gpu."""
    run = next(line for line in _docker_instructions() if "tomllib" in line)
    code = re.search(r'python -c "(.*?)" > /tmp/requirements.txt', run).group(1)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    reqs = r.stdout.split()
    assert not any(q.startswith("onnxruntime-gpu") for q in reqs) and any(q.startswith("onnxruntime>=") for q in reqs)
    assert any(q.startswith("torch") for q in reqs) and any(q.startswith("model-signing") for q in reqs)

"""The shipped examples run: the release workflow's shieldkit commands (on digits, smoke budget) and a parse of the
Dockerfile (no docker on the test machines: every instruction known, every COPY source present)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def workflow_commands() -> list[str]:
    text = (ROOT / "examples" / "release.yml").read_text()
    return [line.strip() for line in text.splitlines() if line.strip().startswith("shieldkit ")]


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


@pytest.mark.slow
def test_release_workflow_commands_run(tmp_path):
    pytest.importorskip("model_signing", reason="the workflow signs: pip install -e '.[sign]' (or '.[dev]')")
    from shieldkit import train

    train("cnn3", "digits", epochs=3, lr=0.05, progress=False, out=tmp_path / "models" / "classifier.pt")
    commands = workflow_commands()
    assert [c.split()[1] for c in commands] == ["protect", "export", "verify", "sign", "inspect"]
    _signing_key(tmp_path / "runner", tmp_path / "keys")  # what the workflow's secret and committed key hold
    env = {**os.environ, "MODEL": "models/classifier.pt", "DATA": "digits", "BUDGET": "smoke",
           "RUNNER_TEMP": str(tmp_path / "runner"), "PUBLIC_KEY": "keys/release.pub",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    for command in commands:
        command = command.replace("shieldkit ", f"{sys.executable} -m shieldkit.cli ", 1)
        if " verify " in command:
            command += " --max-kd-gain 1000"  # the smoke probe on a 3-epoch CNN: the wiring is under test here
        r = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (command, r.stderr[-2000:])
    for name in ("artefact/manifest.json", "verify.json", "verify.md", "verify.xml", "students.png", "MODEL_CARD.md",
                 "artefact/model.sig", "artefact/verify-attestation.json"):
        assert (tmp_path / "release" / name).is_file(), name


def test_dockerfile_parses():
    instructions = {"FROM", "ENV", "WORKDIR", "RUN", "COPY", "USER", "ENTRYPOINT", "CMD", "ARG", "LABEL"}
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip() and not line.startswith("#")]
    words = [line.split()[0] for line in lines]
    assert words[0] == "FROM" and set(words) <= instructions, words
    for line in lines:
        if line.startswith("COPY"):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert re.search(r'ENTRYPOINT \["shieldkit"\]', "\n".join(lines))
    assert any("torch==2.14.1" in line for line in lines if line.startswith("RUN"))

"""Bring your own model and images: a network from the user's own module (``--arch package.module:factory``),
a plain ``nn.Module`` through the Python API, a folder of non-square images at ``--image-size``, the thread
count and file permissions the user's environment asks for."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import shieldkit
from cli_helpers import one_error_line, run
from shieldkit.checkpoint import load_model
from shieldkit.models import NormalizedClassifier
from tests_helpers.mynet import MyNet

TESTS = Path(__file__).resolve().parent
ARCH = "tests_helpers.mynet:build"


def cli(*args, cwd: Path = TESTS, env: dict | None = None) -> subprocess.CompletedProcess:
    """``shieldkit ARGS`` in a fresh process, from the directory that holds the user's module."""
    return subprocess.run([sys.executable, "-m", "shieldkit.cli", *[str(a) for a in args]], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_own_network_through_every_command_in_separate_processes(tmp_path):
    """train with --arch package.module:factory; protect, export, inspect and verify need no flag to rebuild it."""
    m, p, art = tmp_path / "m.pt", tmp_path / "p.pt", tmp_path / "artefact"
    r = cli("train", "--arch", ARCH, "--data", "digits", "--image-size", "16", "--epochs", "1", "--out", m)
    assert r.returncode == 0, r.stderr[-2000:]
    r = cli("protect", m, "--data", "digits", "--epochs", "1", "--out", p)
    assert r.returncode == 0, r.stderr[-2000:]
    r = cli("export", p, "--data", "digits", "--n", "64", "--out", art)
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["model"]["arch"] == ARCH and manifest["input"]["shape"][1:] == [3, 16, 16]
    r = cli("inspect", p, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["model"]["arch"] == ARCH, r.stderr[-2000:]
    r = cli("verify", art, "--data", "digits", "--budget", "smoke", "--max-kd-gain", "1000", "--report", tmp_path / "r.json")
    assert r.returncode == 3, r.stderr[-2000:]  # ran to a verdict: INCONCLUSIVE, no --reference shows the power
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["dataset"]["input_shape"] == [3, 16, 16]  # the data was loaded at the artefact's size


def test_import_path_errors_are_one_line(tmp_path):
    cases = [("tests_helpers.mynet:not_a_module", "returned a str"), ("tests_helpers.mynet:missing", "no attribute"),
             ("no_such_package_xyz.net:build", "no module"), ("tests_helpers.mynet:MyNet.nope", "no attribute")]
    for arch, words in cases:
        r = run("train", "--data", "digits", "--arch", arch, "--epochs", "1", "--out", tmp_path / "m.pt")
        assert r.exit_code == 2 and words in one_error_line(r), (arch, r.output)
    assert not list(tmp_path.iterdir())


def test_plain_module_in_python_is_wrapped_and_reloads(tmp_path, digits16):
    """protect(nn.Module): wrapped with the data's statistics; the checkpoint names the class's import path."""
    torch.manual_seed(0)
    r = shieldkit.protect(MyNet(10), digits16, epochs=1, progress=False, out=tmp_path / "p.pt")
    assert isinstance(r.model, NormalizedClassifier) and r.model.arch == "tests_helpers.mynet:MyNet"
    assert tuple(r.model.mean.flatten().tolist()) == pytest.approx(digits16.mean, abs=1e-6)
    model, info = load_model(tmp_path / "p.pt")
    assert info.arch == "tests_helpers.mynet:MyNet" and info.input_shape == [3, 16, 16]
    x = torch.rand(4, 3, 16, 16)
    assert torch.allclose(model(x), r.model.eval()(x), atol=1e-6)
    assert "RunResult(protect tests_helpers.mynet:MyNet" in repr(r) and "tensor" not in repr(digits16)


def _image_folder(root: Path, per_class: int, size: tuple[int, int]) -> Path:
    """Two classes of non-square PNGs (width x height = size): reddish vs bluish noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("val", per_class // 2)):
        for c, channel in enumerate((0, 2)):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 120, (size[1], size[0], 3), dtype=np.uint8)
                img[..., channel] = rng.integers(150, 256, (size[1], size[0]), dtype=np.uint8)
                Image.fromarray(img).save(d / f"{i}.png")
    return root


@pytest.mark.slow
def test_folder_of_non_square_images_at_image_size(tmp_path):
    """80x48 images, --image-size 64: train -> protect -> export -> verify from the CLI; the later commands
    take the size from the checkpoint / artefact."""
    folder = _image_folder(tmp_path / "images", 40, (80, 48))
    m, p, art = tmp_path / "m.pt", tmp_path / "p.pt", tmp_path / "art"
    assert run("train", "--arch", "cnn3", "--data", folder, "--image-size", "64", "--epochs", "2", "--lr", "0.05",
               "--out", m).exit_code == 0
    assert json.loads((tmp_path / "m.json").read_text())["settings"]["data"]["input_shape"] == [3, 64, 64]
    assert run("protect", m, "--data", folder, "--epochs", "1", "--out", p).exit_code == 0
    r = run("export", p, "--data", folder, "--out", art)
    assert r.exit_code == 0, r.output
    assert json.loads((art / "manifest.json").read_text())["input"]["shape"][1:] == [3, 64, 64]
    r = run("verify", art, "--data", folder, "--budget", "smoke", "--max-kd-gain", "1000", "--report", tmp_path / "r.json")
    assert r.exit_code == 3, r.output  # ran to a verdict: INCONCLUSIVE, no --reference shows the probe's power
    assert json.loads((tmp_path / "r.json").read_text())["dataset"]["input_shape"] == [3, 64, 64]


def test_image_size_resizes_arrays(digits):
    from shieldkit.data import load_dataset

    ds = load_dataset("digits", image_size=20)
    assert ds.input_shape == (3, 20, 20) and len(ds.train) == len(digits.train) and ds.augment.pad == 2
    with pytest.raises(shieldkit.errors.InputError, match="--image-size"):
        load_dataset("digits", image_size=0)


def test_omp_num_threads_is_respected():
    r = subprocess.run([sys.executable, "-c", "from shieldkit.utils import configure_threads; print(configure_threads())"],
                       env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        shieldkit.train("cnn3", "digits", epochs=1, progress=False, out=tmp_path / "m.pt", model_kwargs={"width": 4})
        from shieldkit.exporters import export

        export(tmp_path / "m.pt", tmp_path / "art", input_shape="3,32,32", n=8)
    finally:
        os.umask(old)
    for path in (tmp_path / "m.pt", tmp_path / "m.json", tmp_path / "art" / "manifest.json",
                 tmp_path / "art" / "model.onnx"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE((tmp_path / "art").stat().st_mode) == 0o755


@pytest.mark.slow
def test_folder_with_resize_center_crop_and_rrc(tmp_path):
    """--resize 56 --center-crop 48 --augment rrc on 80x48 images: the recorded preprocessing is reused by protect,
    export and verify (no flags), and the report says what was applied."""
    folder = _image_folder(tmp_path / "images", 40, (80, 48))
    m, p, art = tmp_path / "m.pt", tmp_path / "p.pt", tmp_path / "art"
    r = run("train", "--arch", "cnn3", "--data", folder, "--resize", "56", "--center-crop", "48", "--augment", "rrc",
            "--epochs", "1", "--out", m)
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "m.json").read_text())["settings"]["data"]
    assert data["preprocess"] == {"resize": 56, "center_crop": 48} and data["input_shape"] == [3, 48, 48]
    assert data["augment"]["kind"] == "rrc"
    assert run("protect", m, "--data", folder, "--epochs", "1", "--out", p).exit_code == 0
    assert run("export", p, "--data", folder, "--out", art).exit_code == 0
    r = run("verify", art, "--data", folder, "--budget", "smoke", "--max-kd-gain", "1000", "--report", tmp_path / "r.json")
    assert r.exit_code == 3, r.output  # ran to a verdict: INCONCLUSIVE, no --reference shows the probe's power
    assert json.loads((tmp_path / "r.json").read_text())["dataset"]["preprocess"] == {"resize": 56, "center_crop": 48}


@pytest.mark.slow
def test_torchvision_network_with_the_users_weights(tmp_path):
    """A bare torchvision state_dict (a network trained elsewhere): --arch tv:<name> rebuilds it, the weights load
    unchanged, and the data's statistics become its input normalisation (recorded)."""
    import torchvision

    net = torchvision.models.get_model("resnet18", weights=None, num_classes=10)
    torch.save(net.state_dict(), tmp_path / "mine.pt")
    r = run("protect", tmp_path / "mine.pt", "--arch", "tv:resnet18", "--num-classes", "10", "--data", "digits",
            "--image-size", "16", "--epochs", "1", "--out", tmp_path / "p.pt")
    assert r.exit_code == 0, r.output
    settings = json.loads((tmp_path / "p.json").read_text())["settings"]
    assert settings["arch"] == "tv:resnet18" and settings["normalization"]["source"] == "digits statistics"
    model, info = load_model(tmp_path / "p.pt")
    assert info.arch == "tv:resnet18" and model.net.fc.out_features == 10

import os
import pathlib

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]

# fp32 for every "auto" precision (CLI subprocesses inherit it): golden values and margins must not depend on whether
# the CPU has AMX/AVX-512-BF16. The bf16 path is tested where a test asks for it by name (tests/test_precision.py).
os.environ["SHIELDKIT_PRECISION"] = "fp32"

# two threads (the CI machine's cores) unless the caller pins them, e.g. OMP_NUM_THREADS=1 python -m pytest
_threads = os.environ.get("OMP_NUM_THREADS", "")
torch.set_num_threads(int(_threads) if _threads.isdigit() and int(_threads) > 0 else max(1, min(2, os.cpu_count() or 1)))


def cifar10_path() -> pathlib.Path:
    d = os.environ.get("SHIELDKIT_DATA_DIR")
    p = pathlib.Path(d) / "cifar10.npz" if d else ROOT.parent / "shared" / "data" / "cifar10.npz"
    if not p.is_file():
        pytest.skip(f"CIFAR-10 not found at {p} (set SHIELDKIT_DATA_DIR or place cifar10.npz there)")
    return p


@pytest.fixture(scope="session")
def digits():
    from shieldkit.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits16():
    """Digits at 16x16: enough for fast engine/CLI tests."""
    from shieldkit.data import load_dataset

    return load_dataset("digits", image_size=16)


@pytest.fixture(scope="session")
def digits_models(digits):
    """A ResNet-8 trained on digits and its RML-protected copy (default recipe; shared by the e2e and verify tests)."""
    import shieldkit

    original = shieldkit.train("resnet8", digits, epochs=15, lr=0.05, progress=False)
    protected = shieldkit.protect(original.model, digits, method="rml", epochs=5, progress=False)
    return original, protected


@pytest.fixture(scope="session")
def tiny_cnn(tmp_path_factory):
    """A CNN3 of width 4 trained one epoch on digits, saved as a shieldkit checkpoint (seconds to make)."""
    import shieldkit

    path = tmp_path_factory.mktemp("tiny_cnn") / "m.pt"
    shieldkit.train("cnn3", "digits", out=path, model_kwargs={"width": 4}, run={"epochs": 1, "lr": 0.05, "progress": False})
    return path

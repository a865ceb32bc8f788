import os
import pickle

import pytest
import torch

from shieldkit.checkpoint import load_model, save_checkpoint
from shieldkit.errors import ModelLoadError
from shieldkit.models import create_model


@pytest.fixture
def model():
    torch.manual_seed(0)
    return create_model("resnet8", 10, mean=(0.3, 0.3, 0.3), std=(0.3, 0.3, 0.3)).eval()


def _same_outputs(a, b):
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def test_shieldkit_checkpoint_round_trip(tmp_path, model):
    p = save_checkpoint(tmp_path / "m.pt", model, classes=list("abcdefghij"), input_shape=[3, 32, 32],
                        settings={"lr": 0.1}, figures={"test_accuracy": 91.0})
    loaded, info = load_model(p)
    assert _same_outputs(model, loaded)
    assert info.arch == "resnet8" and info.num_classes == 10 and info.classes[0] == "a"
    assert info.settings == {"lr": 0.1} and info.figures["test_accuracy"] == 91.0
    assert not list(tmp_path.glob("*.tmp"))


def test_bare_state_dicts_need_arch_and_load_with_it(tmp_path, model):
    torch.save(model.state_dict(), tmp_path / "full.pt")
    torch.save({"state_dict": {"module." + k: v for k, v in model.net.state_dict().items()}}, tmp_path / "ddp.pth")
    with pytest.raises(ModelLoadError, match="--arch"):
        load_model(tmp_path / "full.pt")
    for name in ("full.pt", "ddp.pth"):
        loaded, info = load_model(tmp_path / name, arch="resnet8", num_classes=10, mean=[0.3] * 3, std=[0.3] * 3)
        assert info.format == "state_dict" and _same_outputs(model, loaded)


def test_safetensors_with_arch(tmp_path, model):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "m.safetensors"),
              metadata={"arch": "resnet8", "num_classes": "10"})
    loaded, info = load_model(tmp_path / "m.safetensors")
    assert info.format == "safetensors" and _same_outputs(model, loaded)


def test_torchscript_archive(tmp_path, model):
    torch.jit.trace(model, torch.rand(1, 3, 32, 32)).save(str(tmp_path / "m.ts"))
    loaded, info = load_model(tmp_path / "m.ts")
    assert info.format == "torchscript" and _same_outputs(model, loaded)


def test_mismatch_lists_what_differs(tmp_path, model):
    torch.save(model.net.state_dict(), tmp_path / "m.pt")
    with pytest.raises(ModelLoadError) as e:
        load_model(tmp_path / "m.pt", arch="resnet8", num_classes=100)
    assert "shape mismatches" in str(e.value) and "fc.weight" in str(e.value)
    with pytest.raises(ModelLoadError, match="missing .* keys"):
        load_model(tmp_path / "m.pt", arch="resnet20", num_classes=10)


class _Exploit:
    """Unpickling this runs code: it creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mknod, (self.marker,))


def test_code_running_pickle_is_refused_without_trust(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"state_dict": _Exploit(str(marker))}, f)
    with pytest.raises(ModelLoadError, match="--trust-pickle"):
        load_model(tmp_path / "evil.pt")
    assert not marker.exists()


def test_pickled_module_loads_only_with_trust(tmp_path, model):
    torch.save(model, tmp_path / "module.pt")
    with pytest.raises(ModelLoadError, match="--trust-pickle"):
        load_model(tmp_path / "module.pt")
    loaded, info = load_model(tmp_path / "module.pt", trust_pickle=True)
    assert info.format == "pickled-module" and _same_outputs(model, loaded)


def test_corrupt_and_missing_files(tmp_path, model):
    (tmp_path / "junk.pt").write_bytes(b"\x00\x01not a checkpoint" * 10)
    with pytest.raises(ModelLoadError, match="not a readable model file"):
        load_model(tmp_path / "junk.pt")
    p = save_checkpoint(tmp_path / "m.pt", model)
    (tmp_path / "cut.pt").write_bytes(p.read_bytes()[:500])
    with pytest.raises(ModelLoadError, match="not a readable"):
        load_model(tmp_path / "cut.pt")
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "nope.pt")


def test_nan_weights_are_rejected(tmp_path, model):
    sd = model.state_dict()
    sd["net.fc.weight"][0, 0] = float("nan")
    torch.save(sd, tmp_path / "nan.pt")
    with pytest.raises(ModelLoadError, match="NaN"):
        load_model(tmp_path / "nan.pt", arch="resnet8", num_classes=10)

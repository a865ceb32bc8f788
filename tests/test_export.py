"""Export: ONNX/safetensors round trips, parity, uint8 input, int8, tamper detection, failure hygiene."""

import json

import numpy as np
import pytest
import torch

from cli_helpers import one_error_line, run
from shieldkit import load_model, train
from shieldkit.errors import InputError
from shieldkit.exporters import ArtefactError, ParityError, export, inspect_path, load_runtime
from shieldkit.models import create_model


def leftovers(parent, keep=()):
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    r = train("cnn3", "digits", epochs=2, lr=0.05, out=d / "m.pt", progress=False)
    return d / "m.pt", r.figures["test_accuracy"]


@pytest.fixture(scope="module")
def artefact(digits_model, tmp_path_factory):
    """The trained digits model exported with real-image parity and an int8 graph."""
    out = tmp_path_factory.mktemp("art") / "cnn3"
    r = export(digits_model[0], out, data="digits", quantize="int8", n=200, calibration_n=128)
    return out, r


@pytest.mark.parametrize("arch", ["resnet8", "mobilenetv2", "tv:resnet18"])
def test_round_trip_dynamic_batch(arch, tmp_path):
    torch.manual_seed(0)
    model = create_model(arch, 10).eval()
    export(model, tmp_path / "a", input_shape="3,32,32", n=16)
    rt = load_runtime(tmp_path / "a")
    assert rt.provider == "CPUExecutionProvider"
    for n in (1, 7):
        x = torch.rand(n, 3, 32, 32)
        with torch.no_grad():
            ref = model(x).numpy()
        got = rt.predict(x.numpy())
        assert got.shape == (n, 10)
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-4)
    reloaded, info = load_model(tmp_path / "a" / "model.safetensors")
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(reloaded(x), model(x))  # bit-identical
    assert info.arch == arch


def test_real_image_parity_and_manifest(artefact, digits_model):
    out, r = artefact
    m = json.loads((out / "manifest.json").read_text())
    fp32 = m["parity"]["fp32"]["CPUExecutionProvider"]
    assert fp32["n"] == 200 and "digits test images" in m["parity"]["images"]
    assert fp32["max_abs_diff"] <= 1e-3 and fp32["top1_agreement"] >= 0.999
    assert fp32["accuracy"] == pytest.approx(fp32["reference_accuracy"], abs=0.51)
    assert set(m["files"]) == {"model.onnx", "model.safetensors", "model.int8.onnx"}
    assert m["model"]["arch"] == "cnn3" and m["model"]["num_classes"] == 10 and len(m["model"]["classes"]) == 10
    assert m["input"] == {"shape": ["batch", 3, 32, 32], "dtype": "float32", "layout": "NCHW",
                          "value_range": [0.0, 1.0], "name": "images"}
    assert m["onnx"]["opset"] >= 18
    # the checkpoint's own settings and figures travel with the artefact
    assert m["provenance"]["figures"]["test_accuracy"] == pytest.approx(digits_model[1])
    assert m["provenance"]["settings"]["command"] == "train"
    int8 = m["parity"]["int8"]
    assert int8["mode"] == "static" and int8["calibration_images"] == 128
    assert int8["top1_agreement"] > 0.9 and int8["accuracy_drop"] < 5
    rt8 = load_runtime(out, variant="int8")
    assert rt8.predict(np.random.rand(5, 3, 32, 32).astype(np.float32)).shape == (5, 10)


def test_uint8_input_graph(digits_model, tmp_path):
    export(digits_model[0], tmp_path / "u8", data="digits", input_format="uint8", n=64)
    rt = load_runtime(tmp_path / "u8")
    assert rt.spec.layout == "NHWC" and rt.spec.dtype == "uint8"
    raw = torch.randint(0, 256, (6, 32, 32, 3), dtype=torch.uint8)
    model, _ = load_model(digits_model[0])
    with torch.no_grad():
        ref = model(raw.permute(0, 3, 1, 2).float() / 255).numpy()
    np.testing.assert_allclose(rt.predict(raw.numpy()), ref, atol=1e-4, rtol=1e-4)
    with pytest.raises(InputError, match="uint8"):
        rt.predict(raw.numpy().astype(np.float32))
    with pytest.raises(InputError, match="shape"):
        rt.predict(np.zeros((2, 3, 32, 32), np.uint8))


def test_fixed_batch_pads_last_chunk(tmp_path):
    model = create_model("cnn3", 4, width=8).eval()
    export(model, tmp_path / "b4", input_shape="3,16,16", batch_size=4, n=10)
    rt = load_runtime(tmp_path / "b4")
    assert rt.spec.fixed_batch == 4
    x = torch.rand(5, 3, 16, 16)
    with torch.no_grad():
        np.testing.assert_allclose(rt.predict(x.numpy()), model(x).numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("victim", ["model.onnx", "model.safetensors", "manifest.json"])
def test_tampering_is_detected(artefact, tmp_path, victim):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(artefact[0], copy)
    path = copy / victim
    if victim == "manifest.json":
        m = json.loads(path.read_text())
        m["parity"]["fp32"]["CPUExecutionProvider"]["top1_agreement"] = 1.0
        m["model"]["classes"][0] = "cat"
        path.write_text(json.dumps(m))
    else:
        data = bytearray(path.read_bytes())
        data[-100] ^= 0xFF
        path.write_bytes(bytes(data))
    with pytest.raises(ArtefactError, match="changed since export|edited since export"):
        load_runtime(copy)
    r = run("inspect", copy)
    assert r.exit_code == 2 and "FAILED" in r.output  # the table is shown, then exit 2 for a tampered artefact
    assert load_runtime(artefact[0]).predict(np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 10)


def test_export_of_nan_model_fails_and_leaves_nothing(tmp_path):
    model = create_model("cnn3", 10, width=8)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(InputError, match="NaN"):
        export(model, tmp_path / "out", input_shape="3,16,16")
    assert leftovers(tmp_path) == []


def test_wrong_input_shape_fails_clearly(digits_model, tmp_path):
    r = run("export", digits_model[0], "--out", tmp_path / "out", "--input-shape", "1,32,32")
    assert r.exit_code == 2 and "3-channel" in one_error_line(r)
    r = run("export", digits_model[0], "--out", tmp_path / "out", "--input-shape", "3,32")
    assert r.exit_code == 2 and "C,H,W" in one_error_line(r)
    r = run("export", digits_model[0], "--out", tmp_path / "out", "--opset", "13")
    assert r.exit_code == 2 and "opset" in one_error_line(r)
    assert leftovers(tmp_path) == []


def test_parity_failure_exits_1_and_leaves_nothing(digits_model, tmp_path):
    r = run("export", digits_model[0], "--out", tmp_path / "out", "--min-agreement", "1.01", "--n", "20")
    assert r.exit_code == 1 and "parity failed" in one_error_line(r)
    assert leftovers(tmp_path) == []
    with pytest.raises(ParityError, match="top-1 agreement"):
        export(digits_model[0], tmp_path / "out", min_agreement=1.01, n=20)


def test_existing_output_needs_overwrite(digits_model, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep")
    r = run("export", digits_model[0], "--out", tmp_path / "out", "--n", "8")
    assert r.exit_code == 2 and "--overwrite" in one_error_line(r)
    assert (tmp_path / "out" / "x").read_text() == "keep"
    r = run("export", digits_model[0], "--out", tmp_path / "out", "--n", "8", "--overwrite")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "model.onnx", "model.safetensors"]
    assert leftovers(tmp_path) == ["out"]


def test_missing_artefact_and_unavailable_provider(artefact, tmp_path):
    with pytest.raises(ArtefactError, match="not found"):
        load_runtime(tmp_path / "nothing")
    with pytest.raises(InputError, match="TensorrtExecutionProvider|not available"):
        load_runtime(artefact[0], providers="tensorrt")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDAExecutionProvider"):
            load_runtime(artefact[0], providers="cuda")


def test_inspect_json(artefact, digits_model):
    r = run("inspect", artefact[0], "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["integrity"].startswith("ok") and info["model"]["arch"] == "cnn3"
    r = run("inspect", digits_model[0], "--json")
    info = json.loads(r.output)
    assert info["kind"] == "checkpoint" and info["model"]["num_classes"] == 10 and info["settings"]["command"] == "train"
    found = inspect_path(artefact[0])
    assert found.manifest.files["model.onnx"]["bytes"] > 0 and str(found.status) == "ok"

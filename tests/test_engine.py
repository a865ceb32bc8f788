import math

import pytest
import torch

import shieldkit
from shieldkit.engine import TrainConfig, fit, learning_rate
from shieldkit.errors import InputError, ModelLoadError, TrainingError
from shieldkit.methods import Plain
from shieldkit.models import create_model


def test_cosine_schedule_endpoints():
    cfg = TrainConfig(epochs=2, lr=0.2)
    assert learning_rate(cfg, 0, 100) == pytest.approx(0.2)
    assert learning_rate(cfg, 50, 100) == pytest.approx(0.1)
    assert learning_rate(cfg, 100, 100) == pytest.approx(0.0, abs=1e-12)
    step = TrainConfig(epochs=2, lr=0.2, schedule="step")
    assert learning_rate(step, 80, 100) == pytest.approx(0.002)


def test_bad_config_is_input_error():
    with pytest.raises(InputError):
        TrainConfig(epochs=0)
    with pytest.raises(InputError):
        TrainConfig(lr=float("nan"))


def test_training_learns_and_writes_settings(tmp_path, digits16):
    r = shieldkit.train("cnn3", digits16, out=tmp_path / "m.pt", epochs=3, lr=0.05, progress=False,
                        model_kwargs={"width": 8})
    assert r.figures["test_accuracy"] > 60  # 10 classes: chance is 10%
    import json

    run = json.loads((tmp_path / "m.json").read_text())
    assert run["settings"]["train"]["epochs"] == 3 and run["settings"]["model_kwargs"] == {"width": 8}
    assert len(run["history"]) == 3 and not (tmp_path / "m.pt.resume").exists()
    model, info = shieldkit.load_model(tmp_path / "m.pt")
    assert info.figures["test_accuracy"] == pytest.approx(r.figures["test_accuracy"])


def test_resume_continues_from_saved_epoch(tmp_path, digits16, monkeypatch):
    kw = dict(epochs=3, lr=0.05, progress=False, model_kwargs={"width": 8})
    full = shieldkit.train("cnn3", digits16, out=tmp_path / "full.pt", **kw)

    class Interrupted(Exception):
        pass

    steps_per_epoch = len(digits16.train) // 128
    calls = {"n": 0}
    original_step = Plain.step

    def step_then_crash(self, *a):
        calls["n"] += 1
        if calls["n"] > 2 * steps_per_epoch:
            raise Interrupted
        return original_step(self, *a)

    monkeypatch.setattr(Plain, "step", step_then_crash)
    with pytest.raises(Interrupted):
        shieldkit.train("cnn3", digits16, out=tmp_path / "part.pt", **kw)
    monkeypatch.setattr(Plain, "step", original_step)
    assert not (tmp_path / "part.pt").exists()  # no half-written artefact, only the resume state
    assert torch.load(tmp_path / "part.pt.resume", weights_only=True)["epoch"] == 2
    resumed = shieldkit.train("cnn3", digits16, out=tmp_path / "part.pt", resume=True, **kw)
    assert resumed.fit.resumed_from_epoch == 2 and [h["epoch"] for h in resumed.history] == [1, 2, 3]
    # same seed, same batches: the resumed run ends where the uninterrupted one does
    assert resumed.figures["test_accuracy"] == pytest.approx(full.figures["test_accuracy"], abs=1.0)


def test_resume_refuses_other_settings(tmp_path, digits16):
    shieldkit.train("cnn3", digits16, out=tmp_path / "m.pt", epochs=1, progress=False, model_kwargs={"width": 8})
    import shutil

    shutil.copy(tmp_path / "m.pt", tmp_path / "m.pt.resume")  # not a resume file at all
    with pytest.raises(ModelLoadError, match="cannot resume from this file"):
        shieldkit.train("cnn3", digits16, out=tmp_path / "m.pt", resume=True, epochs=2, progress=False)

    with pytest.raises(InputError, match="no resume checkpoint"):
        shieldkit.train("cnn3", digits16, out=tmp_path / "x.pt", resume=True, epochs=2, progress=False)


def test_nan_loss_stops_with_training_error(digits16):
    model = create_model("cnn3", 10, width=8)

    class NaNStep(Plain):
        def step(self, model, x, y, *e):
            out = super().step(model, x, y)
            out["loss"] = out["loss"] * math.nan
            return out

    with pytest.raises(TrainingError, match="learning rate"):
        fit(model, NaNStep(), digits16, TrainConfig(epochs=1), progress=False)


def _epoch_images(batches) -> tuple[list[bytes], list[int]]:
    """The images (as uint8 HWC bytes) and labels of one epoch of ``(float NCHW, label)`` batches."""
    images, labels = [], []
    for x, y in batches:
        u8 = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        images += [img.numpy().tobytes() for img in u8]
        labels += y.tolist()
    return images, labels


@pytest.mark.parametrize("path", ["device", "dataloader"])
def test_both_batch_paths_cover_an_epoch_once_with_the_right_labels(digits16, path):
    """What makes the two input paths interchangeable, checked exactly: an epoch is a permutation of the training
    set (less the dropped remainder), every image carries its own label, a (seed, epoch) repeats its order and the
    next epoch reshuffles."""
    from shieldkit.data import iterate_batches
    from shieldkit.data.loader import LoaderBatches

    from collections import Counter

    train = digits16.train
    own, copies = {}, Counter()
    for img, label in zip(train.x, train.y.tolist()):
        key = img.numpy().tobytes()
        own.setdefault(key, set()).add(label)
        copies[key] += 1
    if path == "device":
        def epoch(e):
            return iterate_batches(train, 64, shuffle=True, seed=e, drop_last=True)
    else:
        epoch = LoaderBatches(train, 64, augment=None, seed=0, device=torch.device("cpu"), workers=0)
    images, labels = _epoch_images(epoch(0))
    assert len(images) == len(train) - len(train) % 64
    assert all(img in own and label in own[img] for img, label in zip(images, labels))
    assert all(n <= copies[k] for k, n in Counter(images).items())  # no image drawn more often than it exists
    again, _ = _epoch_images(epoch(0))
    nxt, _ = _epoch_images(epoch(1))
    assert again == images and nxt != images


def test_dataloader_path_trains(digits16):
    """Training through DataLoader workers learns: > 50 % on digits (chance 10 %). Measured over 5 seeds
    (benchmarks/test_margins.py, dataloader_path_accuracy): see its table for min and spread."""
    run = dict(epochs=3, lr=0.05, progress=False)
    loader = shieldkit.train("cnn3", digits16, model_kwargs={"width": 8},
                             run={**run, "loader": "dataloader", "workers": 0})
    assert len(loader.history) == 3 and loader.settings["train"]["loader"] == "dataloader"
    assert loader.figures["test_accuracy"] > 50
    with pytest.raises(InputError, match="--loader must be one of"):
        shieldkit.train("cnn3", digits16, run={**run, "loader": "magic"})
    with pytest.raises(InputError, match="--workers must be a number >= 0"):
        shieldkit.train("cnn3", digits16, run={**run, "loader": "dataloader", "workers": -1})

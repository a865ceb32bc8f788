import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from shieldkit.data import Augment, augment_batch, iterate_batches, load_dataset, stratified_split
from shieldkit.errors import DatasetNotFoundError, InputError

from conftest import cifar10_path


def test_digits_is_bundled_and_split(digits):
    assert digits.input_shape == (3, 32, 32) and digits.num_classes == 10
    assert len(digits.train) + len(digits.test) == 1797
    assert not digits.augment.flip
    assert set(digits.test.y.tolist()) == set(range(10))


def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 255, (20, 8, 8, 3), dtype=np.uint8),
             y_train=np.arange(20) % 4, x_test=rng.integers(0, 255, (8, 8, 8, 3), dtype=np.uint8),
             y_test=np.arange(8) % 4, classes=np.array(["a", "b", "c", "d"]))
    d = load_dataset(str(tmp_path / "d.npz"))
    assert d.classes == ["a", "b", "c", "d"] and d.input_shape == (3, 8, 8) and len(d.train) == 20
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((2, 8, 8, 3), np.float32), y_train=np.zeros(2),
             x_test=np.zeros((2, 8, 8, 3), np.float32), y_test=np.zeros(2))
    with pytest.raises(InputError, match="uint8"):
        load_dataset(str(tmp_path / "bad.npz"))


def _write_cifar(folder, files, label_key, n, n_classes, meta=None):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for f in files:
        batch = {"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8), label_key: list(rng.integers(0, n_classes, n)),
                 "batch_label": "synthetic", "filenames": [f"{i}.png" for i in range(n)]}
        batch[label_key][:n_classes] = list(range(n_classes))
        with open(folder / f, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    if meta:
        with open(folder / meta[0], "wb") as fh:
            pickle.dump(meta[1], fh)


def test_cifar10_python_batches_layout(tmp_path):
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    _write_cifar(tmp_path / "cifar-10-batches-py", names, "labels", 12, 10,
                 ("batches.meta", {"label_names": [f"c{i}" for i in range(10)]}))
    d = load_dataset("cifar10", tmp_path)
    assert len(d.train) == 60 and len(d.test) == 12 and d.input_shape == (3, 32, 32) and d.classes[3] == "c3"


def test_cifar100_layout(tmp_path):
    _write_cifar(tmp_path / "cifar-100-python", ["train", "test"], "fine_labels", 110, 100,
                 ("meta", {"fine_label_names": [f"f{i}" for i in range(100)]}))
    d = load_dataset("cifar100", tmp_path)
    assert d.num_classes == 100 and len(d.train) == 110


def test_dataset_pickles_cannot_run_code(tmp_path):
    import os

    folder = tmp_path / "cifar-100-python"
    folder.mkdir()

    class Evil:
        def __reduce__(self):
            return (os.mknod, (str(tmp_path / "pwned"),))

    for f in ("train", "test", "meta"):
        with open(folder / f, "wb") as fh:
            pickle.dump({"data": Evil()}, fh)
    with pytest.raises(InputError, match="not a valid CIFAR batch"):
        load_dataset("cifar100", tmp_path)
    assert not (tmp_path / "pwned").exists()


def _img(path, color, size=(12, 12)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_tiny_imagenet_layout(tmp_path):
    root = tmp_path / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819", "n01641577"]
    root.mkdir()
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "words.txt").write_text("n01443537\tgoldfish, Carassius auratus\nn01629819\tsalamander\n")
    for i, w in enumerate(wnids):
        for j in range(3):
            _img(root / "train" / w / "images" / f"{w}_{j}.JPEG", (i * 80, 0, 0), (64, 64))
    lines = []
    for j in range(6):
        _img(root / "val" / "images" / f"val_{j}.JPEG", (0, j * 40, 0), (64, 64))
        lines.append(f"val_{j}.JPEG\t{wnids[j % 3]}\t0\t0\t64\t64")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    d = load_dataset("tiny-imagenet", tmp_path)
    assert d.num_classes == 3 and len(d.train) == 9 and len(d.test) == 6 and d.input_shape == (3, 64, 64)
    assert d.classes[0] == "goldfish" and d.test.y.tolist() == [0, 1, 2, 0, 1, 2]


def test_image_folder(tmp_path):
    for split in ("train", "val"):
        for c, color in (("cat", (255, 0, 0)), ("dog", (0, 255, 0))):
            for j in range(2):
                _img(tmp_path / "pets" / split / c / f"{j}.png", color, (20, 16))
    d = load_dataset(str(tmp_path / "pets"))
    assert d.classes == ["cat", "dog"] and d.input_shape == (3, 16, 20)
    d = load_dataset(str(tmp_path / "pets"), image_size=8)
    assert d.input_shape == (3, 8, 8)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "tiny-imagenet", "imagenet-ish-typo"])
def test_missing_dataset_says_what_to_put_where(tmp_path, name):
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset(name, tmp_path / "nowhere")
    msg = str(e.value)
    assert "\n" not in msg
    if name == "cifar10":
        assert "cifar10.npz" in msg and "cifar-10-batches-py" in msg and "--download" in msg
    if name == "tiny-imagenet":
        assert "wnids.txt" in msg and "val_annotations.txt" in msg


def test_augment_crop_without_padding_is_identity_and_flip_is_a_mirror():
    x = torch.randint(0, 255, (5, 8, 8, 3), dtype=torch.uint8)
    assert torch.equal(augment_batch(x, Augment(pad=0, flip=False)), x)
    out = augment_batch(x, Augment(pad=0, flip=True), torch.Generator().manual_seed(0))
    for a, b in zip(out, x):
        assert torch.equal(a, b) or torch.equal(a, b.flip(1))


def test_augment_crop_is_a_shifted_window():
    x = torch.arange(6 * 6).view(1, 6, 6, 1).to(torch.uint8).repeat(50, 1, 1, 3) + 1
    out = augment_batch(x, Augment(pad=2, flip=False), torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x[0], (0, 0, 2, 2, 2, 2))
    windows = {padded[i:i + 6, j:j + 6].clone().numpy().tobytes() for i in range(5) for j in range(5)}
    assert all(o.numpy().tobytes() in windows for o in out)
    assert len({o.numpy().tobytes() for o in out}) > 1


def test_iterate_batches_is_deterministic_per_seed(digits16):
    a = [y for _, y in iterate_batches(digits16.train, 64, shuffle=True, seed=3)]
    b = [y for _, y in iterate_batches(digits16.train, 64, shuffle=True, seed=3)]
    c = [y for _, y in iterate_batches(digits16.train, 64, shuffle=True, seed=4)]
    assert all(torch.equal(i, j) for i, j in zip(a, b)) and not torch.equal(a[0], c[0])
    x, _ = next(iter(iterate_batches(digits16.train, 8)))
    assert x.dtype == torch.float32 and x.shape == (8, 3, 16, 16) and 0 <= x.min() and x.max() <= 1


def test_stratified_split_keeps_class_balance():
    y = torch.arange(1000) % 10
    part, rest = stratified_split(y, 0.2, seed=0)
    assert len(part) == 200 and len(rest) == 800 and not set(part.tolist()) & set(rest.tolist())
    assert torch.bincount(y[part]).tolist() == [20] * 10


def test_real_cifar10_npz():
    d = load_dataset(str(cifar10_path()))
    assert len(d.train) == 50000 and len(d.test) == 10000 and d.input_shape == (3, 32, 32)
    assert torch.bincount(d.test.y).tolist() == [1000] * 10
    assert d.mean == pytest.approx((0.4913, 0.4821, 0.4465), abs=0.003)


def test_large_image_folders_are_read_lazily_through_dataloader_workers(tmp_path, digits16, monkeypatch):
    import shieldkit
    from shieldkit.data.sources import load_image_folder

    for split, arr, per_class in (("train", digits16.train, 12), ("val", digits16.test, 4)):
        for c in range(10):
            idx = (arr.y == c).nonzero().flatten()[:per_class]
            (tmp_path / split / str(c)).mkdir(parents=True)
            for i in idx.tolist():
                Image.fromarray(arr.x[i].numpy()).save(tmp_path / split / str(c) / f"{i}.png")
    eager = load_image_folder(tmp_path, lazy=False)
    lazy = load_image_folder(tmp_path, lazy=True)
    assert lazy.train.lazy and not eager.train.lazy
    assert lazy.train.x.shape == eager.train.x.shape and len(lazy.test) == 40
    assert torch.equal(lazy.train.x[torch.tensor([0, 5, 7])], eager.train.x[[0, 5, 7]])  # PNG is lossless
    assert lazy.mean == eager.mean
    sub = lazy.train.subset(torch.tensor([1, 2, 3]))
    assert sub.lazy and torch.equal(sub.x[0], eager.train.x[1])
    monkeypatch.setenv("SHIELDKIT_IN_MEMORY_GIB", "0")
    assert load_image_folder(tmp_path).train.lazy  # over the memory limit -> lazy without being asked
    r = shieldkit.train("cnn3", lazy, epochs=2, batch_size=32, workers=2, progress=False, model_kwargs={"width": 8})
    assert r.settings["train"]["loader"] == "device" and len(r.history) == 2  # switched to workers for lazy data
    assert np.isfinite(r.figures["test_accuracy"])


def test_unreadable_file_in_a_dataloader_worker_is_one_line(tmp_path):
    from shieldkit.data.arrays import ImageArray
    from shieldkit.data.lazy import LazyImages
    from shieldkit.data.loader import LoaderBatches
    from shieldkit.data.sources import _read_image

    paths = []
    for i in range(6):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(paths[-1])
    (tmp_path / "bad.png").write_bytes(b"not an image")
    paths.append(tmp_path / "bad.png")
    arr = ImageArray(LazyImages(paths, (8, 8), _read_image), torch.zeros(len(paths), dtype=torch.long))
    batches = LoaderBatches(arr, 7, augment=None, seed=0, device=torch.device("cpu"), workers=1)
    with pytest.raises(InputError) as err:
        list(batches(0))
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(str(tmp_path / "bad.png")) and "not a readable image" in message


def test_cifar100_from_the_single_file_unpack_cifar100_writes(tmp_path):
    """``--data cifar100 --data-dir DIR`` reads DIR/cifar100.npz, the layout ../shared/data/unpack_cifar100.py writes
    (fine labels, class names, coarse labels beside them, which are ignored)."""
    rng = np.random.default_rng(0)
    classes = np.array([f"class{i}" for i in range(100)])
    np.savez(tmp_path / "cifar100.npz", x_train=rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8),
             y_train=np.arange(200) % 100, x_test=rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8),
             y_test=np.arange(100), y_train_coarse=np.arange(200) % 20, y_test_coarse=np.arange(100) % 20,
             classes=classes, coarse_classes=np.array([f"super{i}" for i in range(20)]))
    d = load_dataset("cifar100", tmp_path)
    assert d.name == "cifar100" and d.num_classes == 100 and list(d.classes) == classes.tolist()
    assert len(d.train) == 200 and len(d.test) == 100 and int(d.train.y.max()) == 99

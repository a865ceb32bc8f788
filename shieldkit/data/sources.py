"""Readers for every dataset ``--data`` accepts; each returns a :class:`~shieldkit.data.arrays.Dataset`.

``--data`` is one of ``digits`` (bundled with scikit-learn, needs no files), ``cifar10``,
``cifar100``, ``tiny-imagenet`` (looked up under ``--data-dir``), a ``.npz`` file, or an image-folder
directory with ``train/`` and ``val/`` (or ``test/``). Nothing is downloaded unless asked.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetNotFoundError, InputError
from .arrays import Augment, Dataset, ImageArray, preprocessed, stratified_split
from .preprocess import Preprocess
from .lazy import LazyImages

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def default_data_dir() -> Path:
    """``$SHIELDKIT_DATA_DIR`` when set, else ``./data``."""
    return Path(os.environ.get("SHIELDKIT_DATA_DIR", "data"))


def _dataset(name, x_train, y_train, x_test, y_test, classes, augment) -> Dataset:
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return Dataset(name, ImageArray(to_t(x_train), to_t(y_train).long()), ImageArray(to_t(x_test), to_t(y_test).long()),
                   [str(c) for c in classes], augment)


# --------------------------------------------------------------------------------------------- digits
def load_digits(image_size: int = 32, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 8x8 handwritten digits, upscaled (bilinear) to ``image_size``, 3 channels.

    Split stratified 80/20 with a fixed seed. No horizontal flip (digits are not mirror-symmetric).
    """
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = torch.from_numpy(d.images).float().div(16.0).unsqueeze(1)  # (N, 1, 8, 8) in [0, 1]
    x = torch.nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1).permute(0, 2, 3, 1).contiguous()
    y = torch.from_numpy(d.target).long()
    test_idx, train_idx = stratified_split(y, test_fraction, seed)
    pad = max(1, image_size // 8)
    return Dataset("digits", ImageArray(x[train_idx], y[train_idx]), ImageArray(x[test_idx], y[test_idx]),
                   [str(i) for i in range(10)], Augment(pad=pad, flip=False))


# ------------------------------------------------------------------------------------------------ npz
def load_npz(path: str | Path, name: str | None = None) -> Dataset:
    """A ``.npz`` with ``x_train, y_train, x_test, y_test`` (uint8 NHWC or NHW) and optional ``classes``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"dataset file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a .npz archive (save x_train, y_train, x_test, y_test with numpy.savez)")
    try:
        with np.load(path, allow_pickle=False) as d:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in d.files]
            if missing:
                raise InputError(f"{path}: missing arrays {missing} (need x_train, y_train, x_test, y_test)")
            arrays = {k: d[k] for k in ("x_train", "y_train", "x_test", "y_test")}
            classes = d["classes"].tolist() if "classes" in d.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        if "pickle" in str(e):  # numpy's advice would be to allow_pickle, i.e. to run what the file holds
            raise InputError(f"{path}: holds pickled Python objects, which shieldkit never loads; save plain uint8/"
                             f"int arrays (x_train, y_train, x_test, y_test) with numpy.savez") from None
        raise InputError(f"{path}: not a readable .npz file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    for k in ("x_train", "x_test"):
        a = arrays[k]
        if a.ndim == 3:
            a = a[..., None]
        if a.ndim != 4 or a.dtype != np.uint8:
            raise InputError(f"{path}: {k} must be uint8 (N, H, W, C) images, got {a.dtype} {a.shape}")
        arrays[k] = a
    for k in ("y_train", "y_test"):
        if not np.issubdtype(arrays[k].dtype, np.integer):
            raise InputError(f"{path}: {k} must hold integer labels, got {arrays[k].dtype}")
        if len(arrays[k]) == 0:
            raise InputError(f"{path}: {k} is empty; a dataset needs images in both splits")
    if classes is None:
        n = int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
        classes = [str(i) for i in range(n)]
    h = arrays["x_train"].shape[1]
    return _dataset(name or path.stem, arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                    classes, Augment(pad=max(1, h // 8), flip=True))


# -------------------------------------------------------------------------------------- CIFAR-10/100
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles the CIFAR python batches (dicts of bytes/lists/numpy arrays) and refuses anything else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def _read_cifar_batch(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return _NumpyOnlyUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise InputError(f"{path}: not a valid CIFAR batch file ({e})") from None


def _cifar_images(batch: dict) -> np.ndarray:
    return np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _download_cifar(kind: str, root: Path) -> None:
    from torchvision.datasets import CIFAR10, CIFAR100
    from torchvision.datasets.utils import download_and_extract_archive

    cls = CIFAR10 if kind == "cifar10" else CIFAR100
    download_and_extract_archive(cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5)


def load_cifar10(data_dir: str | Path | None = None, download: bool = False) -> Dataset:
    """CIFAR-10 from ``DATA_DIR/cifar10.npz`` (shieldkit's single-file copy) or torchvision's
    ``DATA_DIR/cifar-10-batches-py/{data_batch_1..5,test_batch}``."""
    root = Path(data_dir) if data_dir else default_data_dir()
    npz = root / "cifar10.npz"
    if npz.is_file():
        return load_npz(npz, "cifar10")
    folder = root / "cifar-10-batches-py"
    files = [folder / f"data_batch_{i}" for i in range(1, 6)] + [folder / "test_batch"]
    if not all(f.is_file() for f in files) and download:
        _download_cifar("cifar10", root)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"CIFAR-10 not found: put cifar10.npz in {root}/ or extract cifar-10-python.tar.gz so that "
            f"{folder}/data_batch_1..5 and test_batch exist (missing: {missing[0]}{' ...' if len(missing) > 1 else ''}); "
            f"or pass --download")
    train = [_read_cifar_batch(f) for f in files[:5]]
    test = _read_cifar_batch(files[5])
    meta = folder / "batches.meta"
    classes = _read_cifar_batch(meta)["label_names"] if meta.is_file() else CIFAR10_CLASSES
    return _dataset("cifar10", np.concatenate([_cifar_images(b) for b in train]),
                    np.concatenate([np.asarray(b["labels"]) for b in train]), _cifar_images(test),
                    np.asarray(test["labels"]), classes, Augment(4, True))


def load_cifar100(data_dir: str | Path | None = None, download: bool = False) -> Dataset:
    """CIFAR-100 (fine labels) from ``DATA_DIR/cifar100.npz`` (the single-file copy ``unpack_cifar100.py --out DIR``
    writes: ``x_train``, ``y_train``, ``x_test``, ``y_test``, ``classes``; the coarse labels are ignored) or
    torchvision's ``DATA_DIR/cifar-100-python/{train,test,meta}``."""
    root = Path(data_dir) if data_dir else default_data_dir()
    npz = root / "cifar100.npz"
    if npz.is_file():
        return load_npz(npz, "cifar100")
    folder = root / "cifar-100-python"
    files = [folder / "train", folder / "test", folder / "meta"]
    if not all(f.is_file() for f in files) and download:
        _download_cifar("cifar100", root)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"CIFAR-100 not found: put cifar100.npz in {root}/ (python3 ../shared/data/unpack_cifar100.py --out "
            f"{root}) or extract cifar-100-python.tar.gz so that {folder}/train, test and meta exist "
            f"(missing: {', '.join(missing)}); or pass --download")
    train, test, meta = (_read_cifar_batch(f) for f in files)
    return _dataset("cifar100", _cifar_images(train), np.asarray(train["fine_labels"]), _cifar_images(test),
                    np.asarray(test["fine_labels"]), meta["fine_label_names"], Augment(4, True))


# --------------------------------------------------------------------------------- image folders
def _read_image(path: Path, size: tuple[int, int] | None, preprocess: Preprocess | None = None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if preprocess is not None and preprocess.active:
                im = preprocess.apply_pil(im)
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise InputError(f"{path}: not a readable image ({e})") from None


def _read_images(paths: list[Path], size: tuple[int, int] | None, preprocess: Preprocess | None = None) -> np.ndarray:
    from rich.progress import track

    if not paths:
        return np.zeros((0, 1, 1, 3), np.uint8)
    if size is None:
        size = _read_image(paths[0], None, preprocess).shape[:2]
    out = np.empty((len(paths), size[0], size[1], 3), np.uint8)
    for i, p in enumerate(track(paths, description="reading images", transient=True, disable=len(paths) < 2000)):
        out[i] = _read_image(p, size, preprocess)
    return out


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


IN_MEMORY_LIMIT_GIB = 8.0  # image folders larger than this (uint8, decoded) are read lazily


def load_image_folder(path: str | Path, image_size: int | None = None, lazy: bool | None = None,
                      preprocess: Preprocess | None = None) -> Dataset:
    """``PATH/train/<class>/*.jpg`` and ``PATH/val/<class>/*`` (or ``test/``), brought to one size by
    ``preprocess`` (or stretched to ``image_size``; default: every image resized to the first one's size).

    Read into memory, unless ``lazy`` (or, with ``lazy=None``, when the decoded uint8 images would take
    more than ``$SHIELDKIT_IN_MEMORY_GIB``, default 8 GiB): then the files are decoded on access and
    training reads them through DataLoader workers."""
    root = Path(path)
    train_dir = root / "train"
    test_dir = next((root / d for d in ("val", "test") if (root / d).is_dir()), None)
    if not train_dir.is_dir() or test_dir is None:
        raise DatasetNotFoundError(f"image folder {root} must contain train/<class>/... and val/<class>/... (or test/)")
    classes = sorted(d.name for d in train_dir.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise InputError(f"{train_dir} must hold one sub-folder per class (found {len(classes)})")
    pp = preprocess or Preprocess(image_size=image_size)
    size = (pp.square, pp.square) if pp.square else None
    read = functools.partial(_read_image, preprocess=pp)  # picklable: DataLoader workers decode with it

    def split(folder: Path):
        paths, labels = [], []
        for i, c in enumerate(classes):
            found = _list_images(folder / c) if (folder / c).is_dir() else []
            paths += found
            labels += [i] * len(found)
        return paths, np.asarray(labels, dtype=np.int64)

    train_paths, y_train = split(train_dir)
    if not train_paths:
        raise InputError(f"no images found under {train_dir}")
    test_paths, y_test = split(test_dir)
    if lazy is None:
        first = size or read(train_paths[0], None).shape[:2]
        gib = (len(train_paths) + len(test_paths)) * first[0] * first[1] * 3 / 2**30
        lazy = gib > float(os.environ.get("SHIELDKIT_IN_MEMORY_GIB", IN_MEMORY_LIMIT_GIB))
    if lazy:
        size = size or read(train_paths[0], None).shape[:2]
        train = ImageArray(LazyImages(train_paths, size, read), torch.from_numpy(y_train))
        test = ImageArray(LazyImages(test_paths, size, read), torch.from_numpy(y_test))
        return Dataset(root.name, train, test, list(classes), Augment(max(1, size[0] // 8), True),
                       preprocess=pp.to_dict())
    x_train = _read_images(train_paths, size, pp)
    x_test = _read_images(test_paths, x_train.shape[1:3], pp)
    h = x_train.shape[1]
    ds = _dataset(root.name, x_train, y_train, x_test, y_test, classes, Augment(max(1, h // 8), True))
    ds.preprocess = pp.to_dict()
    return ds


def load_tiny_imagenet(data_dir: str | Path | None = None, image_size: int | None = None,
                       preprocess: Preprocess | None = None) -> Dataset:
    """Tiny-ImageNet in its released layout under ``DATA_DIR/tiny-imagenet-200``: ``wnids.txt``,
    ``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` with ``val/val_annotations.txt``."""
    root = (Path(data_dir) if data_dir else default_data_dir()) / "tiny-imagenet-200"
    wnids_file, ann = root / "wnids.txt", root / "val" / "val_annotations.txt"
    if not wnids_file.is_file() or not ann.is_file() or not (root / "train").is_dir():
        raise DatasetNotFoundError(
            f"Tiny-ImageNet not found: unzip tiny-imagenet-200.zip so that {root}/wnids.txt, {root}/train/<wnid>/images/ "
            f"and {root}/val/val_annotations.txt exist")
    wnids = [w.strip() for w in wnids_file.read_text().split() if w.strip()]
    index = {w: i for i, w in enumerate(wnids)}
    train_paths, y_train = [], []
    for w in wnids:
        found = _list_images(root / "train" / w / "images")
        train_paths += found
        y_train += [index[w]] * len(found)
    test_paths, y_test = [], []
    for line in ann.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1] in index:
            test_paths.append(root / "val" / "images" / parts[0])
            y_test.append(index[parts[1]])
    if not train_paths or not test_paths:
        raise InputError(f"Tiny-ImageNet at {root} holds no images (train {len(train_paths)}, val {len(test_paths)})")
    pp = preprocess or Preprocess(image_size=image_size)
    size = (pp.square, pp.square) if pp.square else (64, 64)
    classes = wnids
    words = root / "words.txt"
    if words.is_file():
        names = dict(line.split("\t", 1) for line in words.read_text().splitlines() if "\t" in line)
        classes = [names.get(w, w).split(",")[0].strip() for w in wnids]
    ds = _dataset("tiny-imagenet", _read_images(train_paths, size, pp), np.asarray(y_train),
                  _read_images(test_paths, size, pp), np.asarray(y_test), classes, Augment(size[0] // 8, True))
    ds.preprocess = pp.to_dict()
    return ds


# ----------------------------------------------------------------------------------------- entry
DATASET_NAMES = ("digits", "cifar10", "cifar100", "tiny-imagenet")


def load_dataset(data: str, data_dir: str | Path | None = None, *, download: bool = False,
                 image_size: int | None = None, resize: int | None = None, center_crop: int | None = None,
                 preprocess: Preprocess | None = None) -> Dataset:
    """Load ``data``: a dataset name (``digits``, ``cifar10``, ``cifar100``, ``tiny-imagenet``),
    a ``.npz`` file or an image-folder directory, brought to size by ``preprocess`` (or the ``image_size``,
    ``resize``, ``center_crop`` it is made of; see :mod:`shieldkit.data.preprocess`): image files as they are
    decoded, arrays after loading."""
    pp = preprocess or Preprocess(image_size, resize, center_crop)
    ds = _load(data, data_dir, download, pp)
    return preprocessed(ds, pp)


def _load(data: str, data_dir: str | Path | None, download: bool, pp: Preprocess) -> Dataset:
    image_size = pp.image_size
    if data == "digits":
        return load_digits(image_size or 32)
    if data == "cifar10":
        return load_cifar10(data_dir, download)
    if data == "cifar100":
        return load_cifar100(data_dir, download)
    if data == "tiny-imagenet":
        return load_tiny_imagenet(data_dir, preprocess=pp)
    path = Path(data)
    if path.suffix == ".npz":
        return load_npz(path)
    if path.is_dir():
        return load_image_folder(path, preprocess=pp)
    raise DatasetNotFoundError(
        f"unknown dataset {data!r}: use one of {', '.join(DATASET_NAMES)}, a .npz file, or a folder with train/ and val/")

"""In-memory image datasets (uint8 NHWC tensors) and batched, on-device augmentation.

Every dataset shieldkit reads is turned into an :class:`ImageArray`: the whole split as one uint8
tensor, so batches are sliced, augmented (random crop with zero padding, horizontal flip) and
converted to float [0, 1] NCHW (channels_last) on the device in one go, with no worker processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np
import torch

from ..errors import InputError
from .lazy import LazyImages


@dataclass
class ImageArray:
    """One split: ``x`` uint8 (N, H, W, C) in 0..255, ``y`` int64 (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.dtype != torch.uint8 or self.x.dim() != 4:
            raise InputError(f"images must be uint8 (N, H, W, C), got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y.dim() != 1 or len(self.y) != len(self.x):
            raise InputError(f"labels must be (N,) matching {len(self.x)} images, got {tuple(self.y.shape)}")
        self.y = self.y.long()

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        _, h, w, c = self.x.shape
        kind = "files" if self.lazy else f"uint8 on {self.x.device}"
        return f"ImageArray({len(self)} images {h}x{w}x{c}, {kind})"

    def subset(self, index: torch.Tensor) -> "ImageArray":
        x = self.x.select(index) if self.lazy else self.x[index]  # lazy files stay lazy
        return ImageArray(x, self.y[index])

    @property
    def lazy(self) -> bool:
        """True when the images are files decoded on access (see data/lazy.py)."""
        return isinstance(self.x, LazyImages)

    def to(self, device: torch.device | str) -> "ImageArray":
        return ImageArray(self.x.to(device), self.y.to(device))


AUGMENTS = ("crop", "rrc", "none")


@dataclass
class Augment:
    """Training augmentation, batched on the device: ``kind="crop"`` a random crop after ``pad`` pixels of zero
    padding (CIFAR style); ``"rrc"`` a random-resized crop (area fraction in ``scale``, aspect ratio in [3/4, 4/3],
    resized back to the image size: ImageNet style); ``"none"``. Then an optional horizontal flip."""

    pad: int = 4
    flip: bool = True
    kind: str = "crop"
    scale: tuple[float, float] = (0.08, 1.0)

    def __post_init__(self) -> None:
        if self.kind not in AUGMENTS:
            raise ValueError(f"--augment must be one of {', '.join(AUGMENTS)}, got {self.kind!r}")
        if not 0.0 < self.scale[0] <= self.scale[1] <= 1.0:
            raise ValueError(f"random-resized-crop scale must satisfy 0 < min <= max <= 1, got {self.scale}")

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "pad": self.pad, "flip": self.flip}
        return {**d, "scale": list(self.scale)} if self.kind == "rrc" else d


@dataclass
class Dataset:
    """A dataset as shieldkit uses it: train/test splits, class names, normalisation, augmentation."""

    name: str
    train: ImageArray
    test: ImageArray
    classes: list[str]
    augment: Augment = field(default_factory=Augment)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    preprocess: dict = field(default_factory=dict)  # Preprocess.to_dict() of how the images were brought to size

    def __post_init__(self) -> None:
        if len(self.train) == 0 or len(self.test) == 0:
            raise InputError(f"dataset {self.name!r} has an empty split (train {len(self.train)}, test {len(self.test)})")
        if self.train.x.shape[1:] != self.test.x.shape[1:]:
            raise InputError(f"dataset {self.name!r}: train images {tuple(self.train.x.shape[1:])} and test images "
                             f"{tuple(self.test.x.shape[1:])} differ in shape")
        n_classes = len(self.classes)
        for split, arr in (("train", self.train), ("test", self.test)):
            lo, hi = int(arr.y.min()), int(arr.y.max())
            if lo < 0 or hi >= n_classes:
                raise InputError(f"dataset {self.name!r}: {split} labels span {lo}..{hi} but there are {n_classes} classes")
        if not self.mean:
            self.mean, self.std = channel_stats(self.train.x)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        c, h, w = self.input_shape
        return (f"Dataset({self.name!r}: train {len(self.train)}, test {len(self.test)} images {c}x{h}x{w}, "
                f"{self.num_classes} classes, augment {self.augment.to_dict()})")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image as the model sees it."""
        _, h, w, c = self.train.x.shape
        return (c, h, w)

    def describe(self) -> dict:
        return {"name": self.name, "train": len(self.train), "test": len(self.test), "num_classes": self.num_classes,
                "input_shape": list(self.input_shape), "augment": self.augment.to_dict(),
                "preprocess": dict(self.preprocess)}


def channel_stats(x: torch.Tensor, max_images: int = 10000) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 NHWC images, on [0, 1], over a fixed-stride sample of at most
    ``max_images`` (1000 for files decoded on access), accumulated in chunks: memory stays O(chunk)."""
    if isinstance(x, LazyImages):
        max_images = min(max_images, 1000)
    step = max(1, len(x) // max_images)
    index = torch.arange(0, len(x), step)
    total = torch.zeros(x.shape[3], dtype=torch.float64)
    squares = torch.zeros_like(total)
    count = 0
    for start in range(0, len(index), 256):
        chunk = x[index[start:start + 256]].to(torch.float64).div_(255.0).reshape(-1, x.shape[3])
        total += chunk.sum(0)
        squares += chunk.square().sum(0)
        count += chunk.shape[0]
    mean = total / count
    std = ((squares - count * mean.square()) / max(1, count - 1)).clamp_min(0).sqrt().clamp_min(1e-3)
    return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float [0, 1] NCHW in channels_last memory format (a permuted view, no copy before the cast)."""
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def augment_batch(x: torch.Tensor, aug: Augment, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random crop (zero padding ``aug.pad``) and optional horizontal flip of a uint8 NHWC batch, on its device."""
    b, h, w, _ = x.shape
    dev = x.device
    if aug.kind == "rrc":
        x = random_resized_crop(x, aug.scale, generator)
    elif aug.kind == "crop" and aug.pad > 0:
        p = aug.pad
        padded = torch.nn.functional.pad(x, (0, 0, p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (b,), generator=generator).to(dev)
        ox = torch.randint(0, 2 * p + 1, (b,), generator=generator).to(dev)
        rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]
        cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]
        x = padded[torch.arange(b, device=dev)[:, None, None], rows, cols]
    if aug.flip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(dev)
        x = torch.where(flip[:, None, None, None], x.flip(2), x)
    return x


def random_resized_crop(x: torch.Tensor, scale: tuple[float, float], generator: torch.Generator | None = None,
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """Per image: a box of area fraction ~U(scale) and aspect ratio log-uniform in ``ratio`` (clipped to the image),
    at a uniform position, resized back to H×W with bilinear sampling (``roi_align``): one batched op, any device."""
    from torchvision.ops import roi_align

    b, h, w, _ = x.shape
    area = h * w * (scale[0] + (scale[1] - scale[0]) * torch.rand(b, generator=generator))
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * torch.rand(b, generator=generator)
    r = torch.exp(log_r)
    bw = torch.sqrt(area * r).clamp(1.0, float(w))
    bh = torch.sqrt(area / r).clamp(1.0, float(h))
    x0 = (w - bw) * torch.rand(b, generator=generator)
    y0 = (h - bh) * torch.rand(b, generator=generator)
    boxes = torch.stack([torch.arange(b, dtype=torch.float32), x0, y0, x0 + bw, y0 + bh], dim=1).to(x.device)
    out = roi_align(x.permute(0, 3, 1, 2).float(), boxes, output_size=(h, w), spatial_scale=1.0, sampling_ratio=1,
                    aligned=True)
    return out.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def iterate_batches(data: ImageArray, batch_size: int, *, shuffle: bool = False, augment: Augment | None = None,
                    seed: int = 0, device: torch.device | str = "cpu", drop_last: bool = False,
                    indices: torch.Tensor | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images float [0,1] NCHW, labels)`` on ``device``.

    Shuffling and augmentation draw from a generator seeded with ``seed`` alone, so a given
    (seed, epoch) pair always sees the same batches: resumed runs need no saved RNG state.
    """
    gen = torch.Generator().manual_seed(int(seed))
    n = len(data) if indices is None else len(indices)
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    if indices is not None:
        order = indices[order]
    stop = n - (n % batch_size) if (drop_last and n >= batch_size) else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        xb = data.x[idx.to(data.x.device)]
        if augment is not None:
            xb = augment_batch(xb, augment, gen)
        yield to_float(xb.to(device, non_blocking=True)), data.y[idx.to(data.y.device)].to(device, non_blocking=True)


def stratified_split(y: torch.Tensor, fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(part, rest)``: ``part`` holds ``fraction`` of each class (at least one image per class)."""
    if not 0.0 < fraction <= 1.0:
        raise InputError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    y_np = y.cpu().numpy()
    part, rest = [], []
    for c in np.unique(y_np):
        idx = np.flatnonzero(y_np == c)
        rng.shuffle(idx)
        k = max(1, int(round(fraction * len(idx)))) if fraction < 1 else len(idx)
        part.append(idx[:k])
        rest.append(idx[k:])
    part_idx = np.sort(np.concatenate(part))
    rest_idx = np.sort(np.concatenate(rest)) if rest else np.array([], dtype=np.int64)
    return torch.from_numpy(part_idx).long(), torch.from_numpy(rest_idx).long()



def preprocessed(ds: Dataset, pp) -> Dataset:
    """``ds`` with :class:`~shieldkit.data.preprocess.Preprocess` ``pp`` applied to every image (statistics
    recomputed, crop padding scaled to the new size, the settings recorded in ``ds.preprocess``)."""
    if not pp.active:
        return ds
    if ds.train.lazy:
        if pp.square is not None and ds.input_shape[1:] != (pp.square, pp.square):
            raise InputError(f"{ds.name} is read lazily from files: its preprocessing is set when it is loaded")
        return ds
    train_x, test_x = pp.apply_arrays(ds.train.x), pp.apply_arrays(ds.test.x)
    if train_x is ds.train.x and test_x is ds.test.x:
        return Dataset(ds.name, ds.train, ds.test, ds.classes, ds.augment, ds.mean, ds.std,
                       {**ds.preprocess, **pp.to_dict()})
    h = train_x.shape[1]
    return Dataset(ds.name, ImageArray(train_x, ds.train.y), ImageArray(test_x, ds.test.y), ds.classes,
                   replace(ds.augment, pad=max(1, h // 8)), preprocess={**ds.preprocess, **pp.to_dict()})

"""Input throughput of a large image folder on the lazy path: files decoded by DataLoader workers.

An ImageNet-style folder (JPEGs larger than the model's input) is read lazily when its decoded images would not
fit in memory: every epoch decodes each file, applies the preprocessing (``--resize 256 --center-crop 224``) in
the worker, and the random-resized-crop + flip augmentation runs batched on the device. This measures images/s
of that pipeline alone (no model), and of a training step of a small model, for 0 and 2 workers.

    python benchmarks/folder_throughput.py --images 2000          # synthetic 320x256 JPEGs in a temp folder
    python benchmarks/folder_throughput.py --folder ~/imagenette   # or a real folder (train/<class>/...)
    -> prints a table, writes benchmarks/results/folder_throughput.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from shieldkit.data.arrays import Augment
from shieldkit.data.loader import LoaderBatches
from shieldkit.data.preprocess import Preprocess
from shieldkit.data.sources import load_image_folder
from shieldkit.models import create_model
from shieldkit.utils import configure_threads, write_json


def synthetic_folder(root: Path, n: int, size: tuple[int, int], classes: int = 10) -> Path:
    """``n`` JPEGs of ``size`` (w, h), smooth random colour fields (JPEG-compressible like photos)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", n), ("val", max(classes, n // 10))):
        for i in range(count):
            c = i % classes
            d = root / split / f"c{c}"
            d.mkdir(parents=True, exist_ok=True)
            small = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
            Image.fromarray(small).resize(size, Image.BILINEAR).save(d / f"{i}.jpg", quality=90)
    return root


def epoch_rate(batches: LoaderBatches, step=None, limit: int | None = None) -> tuple[float, int]:
    seen, t0 = 0, time.perf_counter()
    for i, (x, y) in enumerate(batches(0)):
        if step is not None:
            step(x, y)
        seen += len(y)
        if limit is not None and i + 1 >= limit:
            break
    return seen / (time.perf_counter() - t0), seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=None, help="an image folder (default: a synthetic one)")
    ap.add_argument("--images", type=int, default=2000, help="synthetic training images")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--train-batches", type=int, default=10, help="batches timed with a training step")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "folder_throughput.json"))
    args = ap.parse_args()
    threads = configure_threads()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or synthetic_folder(Path(tmp) / "images", args.images, (320, 256))
        pp = Preprocess(resize=256, center_crop=224)
        t0 = time.perf_counter()
        ds = load_image_folder(folder, lazy=True, preprocess=pp)
        index_s = time.perf_counter() - t0
        aug = Augment(kind="rrc", flip=True)
        model = create_model("tv:mobilenet_v2", ds.num_classes, mean=(0.5,) * 3, std=(0.25,) * 3).train()  # ImageNet stem
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        rows = []
        for workers in (0, 2):
            batches = LoaderBatches(ds.train, args.batch_size, augment=aug, seed=0, device=torch.device("cpu"),
                                    workers=workers)
            rate, n = epoch_rate(batches)
            train_rate, tn = epoch_rate(batches, step, args.train_batches)
            rows.append({"workers": workers, "pipeline_images_per_s": rate, "images": n,
                         "train_images_per_s": train_rate, "train_images": tn})
            print(f"workers {workers}: pipeline {rate:,.0f} img/s ({n} images), torchvision MobileNetV2 training step "
                  f"{train_rate:,.1f} img/s ({tn} images)", flush=True)
    print("\n| workers | input pipeline (img/s) | + tv:mobilenet_v2 train step (img/s) |\n|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['pipeline_images_per_s']:,.0f} | {r['train_images_per_s']:,.1f} |")
    write_json({"command": "python benchmarks/folder_throughput.py"
                           + (f" --folder {args.folder}" if args.folder else f" --images {args.images}"),
                "folder": str(args.folder) if args.folder else f"synthetic: {args.images} JPEGs 320x256, 10 classes",
                "preprocess": pp.to_dict(), "augment": aug.to_dict(), "batch_size": args.batch_size,
                "threads": threads, "index_seconds": index_s, "rows": rows}, args.out)
    print(f"\n-> {args.out}")


if __name__ == "__main__":
    main()

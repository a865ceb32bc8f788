"""The one training loop every method runs in.

``fit`` moves the model to the device (channels_last; bf16 autocast where the hardware has it natively:
``shieldkit.precision``), runs
SGD with a cosine (or constant/step) schedule, evaluates on the test split after each epoch, shows
a progress bar (loss, accuracy, images/s), writes a resume checkpoint atomically after every
epoch, and picks up from it with ``resume=True``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

from .data.arrays import Dataset, ImageArray, iterate_batches
from .data.loader import LOADERS, LoaderBatches
from .distributed import all_reduce_sum, check_global_batch, init_distributed, shard, wrap
from .errors import InputError, ModelLoadError, TrainingError
from .methods.base import Method
from .precision import resolve_precision, train_autocast
from .progress import progress_bar
from .utils import atomic_torch_save, resolve_device

SCHEDULES = ("cosine", "constant", "step")


@dataclass
class TrainConfig:
    """Optimisation settings shared by every method."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16 (shieldkit.precision); resolved here, so the record says what ran
    channels_last: bool = True
    eval_batch_size: int = 512
    compile: bool = False  # torch.compile the training forward (measure first: benchmarks/throughput.py)
    loader: str = "device"  # device: slice the in-memory dataset on the device | dataloader: DataLoader workers
    workers: int = 2

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise InputError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"learning rate must be a positive number, got {self.lr}")
        if self.loader not in LOADERS:
            raise InputError(f"loader must be one of {LOADERS}, got {self.loader!r}")
        if self.workers < 0:
            raise InputError(f"workers must be >= 0, got {self.workers}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        dev = resolve_device(self.device)  # an unknown or unavailable device is reported before any data is loaded
        self.precision = resolve_precision(self.precision, dev)


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    test_accuracy: float = float("nan")
    seconds: float = 0.0
    resumed_from_epoch: int = 0


def learning_rate(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """lr_t: cosine ½·lr·(1 + cos(π·t/T)), constant, or step (×0.1 at 50% and 75% of training)."""
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "step":
        frac = step / max(1, total_steps)
        return cfg.lr * (0.1 ** ((frac >= 0.5) + (frac >= 0.75)))
    return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * step / max(1, total_steps)))


def autocast(device: torch.device, enabled: bool):
    """The autocast of an *evaluation* forward: bf16 on CUDA only; the CPU evaluates in fp32 (exact accuracies and
    parity). Training steps use :func:`shieldkit.precision.train_autocast`."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_model(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


@torch.no_grad()
def predict_logits(model: nn.Module, data: ImageArray, *, batch_size: int = 512, device: str | torch.device = "auto",
                   bf16: bool = True, indices: torch.Tensor | None = None) -> torch.Tensor:
    """Logits of ``model`` on every image of ``data`` (or ``indices``), float32 on the CPU, in order."""
    dev = resolve_device(device)
    was_training = model.training
    model.eval()
    out = []
    for x, _ in iterate_batches(data, batch_size, device=dev, indices=indices):
        with autocast(dev, bf16):
            out.append(model(x).float().cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def clean_accuracy(model: nn.Module, data: ImageArray, *, batch_size: int = 512, device: str | torch.device = "auto",
             bf16: bool = True) -> dict[str, float]:
    """Top-1 accuracy (%) and mean cross-entropy of ``model`` on ``data``."""
    logits = predict_logits(model, data, batch_size=batch_size, device=device, bf16=bf16)
    y = data.y.cpu()
    return {"accuracy": 100.0 * (logits.argmax(1) == y).float().mean().item(),
            "loss": torch.nn.functional.cross_entropy(logits, y).item()}


Batches = Callable[[int], Iterable[tuple[torch.Tensor, ...]]]


def fit(model: nn.Module, method: Method, data: Dataset, cfg: TrainConfig, *, resume_path: str | Path | None = None,
        resume: bool = False, batches: Batches | None = None, steps_per_epoch: int | None = None,
        progress: bool = True, description: str = "train", run_settings: dict | None = None,
        evaluate_each_epoch: bool = True) -> FitResult:
    """Train ``model`` in place with ``method`` for ``cfg.epochs`` epochs.

    ``batches(epoch)`` may supply the batches (tuples ``(x, y, *extras)`` on the device); by default
    they are ``data.train`` shuffled and augmented with seed ``cfg.seed·1000 + epoch``.
    ``resume_path``: where the per-epoch resume checkpoint is written (and read with ``resume``).
    """
    ctx, dev = init_distributed(resolve_device(cfg.device))
    check_global_batch(cfg.batch_size, ctx)
    model = prepare_model(model, dev, cfg.channels_last)
    method.to(dev, cfg.channels_last)
    train_model = wrap(model, dev, ctx)
    if cfg.compile:
        train_model = torch.compile(train_model)
    progress = progress and ctx.is_main
    if batches is None and (cfg.loader == "dataloader" or data.train.lazy):  # lazy files: decode in workers
        batches = LoaderBatches(data.train, cfg.batch_size, augment=data.augment, seed=cfg.seed, device=dev,
                                workers=cfg.workers)
        steps_per_epoch = len(batches)
    elif batches is None:
        def batches(epoch: int):
            return iterate_batches(data.train, cfg.batch_size, shuffle=True, augment=data.augment,
                                   seed=cfg.seed * 1000 + epoch, device=dev, drop_last=True)
        n = len(data.train)
        steps_per_epoch = n // cfg.batch_size if n >= cfg.batch_size else 1
    elif steps_per_epoch is None:
        raise ValueError("steps_per_epoch is needed with custom batches")

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, momentum=cfg.momentum,
                                nesterov=cfg.momentum > 0)
    result = FitResult()
    start_epoch = 0
    settings = {"train": asdict(cfg), "method": method.settings(), **(run_settings or {})}
    if resume:
        start_epoch, result.history = _load_resume(resume_path, model, optimizer, settings)
        result.resumed_from_epoch = start_epoch
    total_steps = cfg.epochs * steps_per_epoch
    t0 = time.perf_counter()
    with progress_bar(progress) as bar:
        task = bar.add_task(description, total=total_steps, completed=start_epoch * steps_per_epoch, stats="")
        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            sums: dict[str, float] = {}
            seen = correct = 0
            t_epoch = time.perf_counter()
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            for i, batch in enumerate(batches(epoch)):
                batch = shard(batch, ctx)
                x, y = batch[0], batch[1]
                step = epoch * steps_per_epoch + i
                for g in optimizer.param_groups:
                    g["lr"] = learning_rate(cfg, step, total_steps)
                with train_autocast(dev, cfg.precision):
                    out = method.step(train_model, x, y, *batch[2:])
                loss = out["loss"]
                if not torch.isfinite(loss):
                    raise TrainingError(f"loss became {loss.item()} at epoch {epoch + 1}, step {i + 1}; "
                                        f"lower the learning rate (now {cfg.lr}) or check the inputs")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                b = len(y)
                seen += b
                correct += (out["logits"].argmax(1) == y).sum().item()
                for k, v in out.items():
                    if k != "logits":
                        sums[k] = sums.get(k, 0.0) + float(v.detach()) * b
                rate = seen / max(1e-9, time.perf_counter() - t_epoch)
                bar.update(task, advance=1, stats=f"ep {epoch + 1}/{cfg.epochs} loss {sums['loss'] / seen:.3f} "
                                                  f"acc {100 * correct / seen:.1f}% {rate:,.0f} img/s")
            seconds = time.perf_counter() - t_epoch
            seen, correct, *totals = all_reduce_sum([seen, correct, *sums.values()], dev)
            sums = dict(zip(sums, totals))
            record = {"epoch": epoch + 1, **{k: v / max(1, seen) for k, v in sums.items()},
                      "train_accuracy": 100.0 * correct / max(1, seen), "images_per_s": seen / max(1e-9, seconds),
                      "seconds": seconds,
                      **peak_memory(dev)}
            if evaluate_each_epoch or epoch + 1 == cfg.epochs:
                ev = clean_accuracy(model, data.test, batch_size=cfg.eval_batch_size, device=dev,
                                    bf16=cfg.precision == "bf16")
                record.update({"test_accuracy": ev["accuracy"], "test_loss": ev["loss"]})
                bar.update(task, stats=f"ep {epoch + 1}/{cfg.epochs} test acc {ev['accuracy']:.2f}%")
            result.history.append(record)
            if resume_path is not None and ctx.is_main:
                atomic_torch_save({"epoch": epoch + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                   "history": result.history, "settings": _comparable(settings)}, resume_path)
    model.eval()
    result.seconds = time.perf_counter() - t0
    result.test_accuracy = result.history[-1]["test_accuracy"] if result.history else float("nan")
    return result


def peak_memory(device: torch.device) -> dict[str, float]:
    """Peak memory of the epoch just run: CUDA allocator peak on GPU, the process's peak RSS on CPU (MiB)."""
    if device.type == "cuda":
        return {"peak_gpu_memory_mib": torch.cuda.max_memory_allocated(device) / 2**20}
    import resource

    return {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _comparable(settings: dict) -> dict:
    """The settings that must match for a resume (epochs may grow; device may change)."""
    import json

    s = json.loads(json.dumps(settings, default=str))
    # what may differ between the run and its resume
    for k in ("epochs", "device", "loader", "workers", "compile", "precision"):
        s.get("train", {}).pop(k, None)
    return s


def _load_resume(path, model, optimizer, settings) -> tuple[int, list]:
    if path is None or not Path(path).is_file():
        raise InputError(f"--resume: no resume checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except Exception as e:  # noqa: BLE001 -- any failure here means the file is unusable
        raise ModelLoadError(f"{path}: cannot resume from this file ({type(e).__name__}: {e})") from None
    if state.get("settings") != _comparable(settings):
        raise InputError(f"{path}: was written by a run with different settings; start a new run or use the same options")
    return int(state["epoch"]), list(state.get("history", []))

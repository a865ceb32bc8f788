"""Data-free KD: steal the oracle without any of its data.

A generator G and a student S play a min-max game (DFAD, Fang et al. 2019; ZSKT, Micaelli & Storkey
2019): G looks for images where S and the teacher T disagree most, S learns to agree with T there.

    generator step:  max_G  ‖S(G(z)) − T(G(z))‖₁          (− λ_BN · L_BN, DeepInversion, white-box)
    student steps:   min_S  ‖S(G(z)) − T(G(z))‖₁          (``student_steps`` per generator step)

- white-box (a :class:`~shieldkit.verify.oracle.TorchOracle`): ∇_G flows through T by backpropagation;
  with ``bn_weight > 0`` and BatchNorm layers in T, G also matches T's BN running statistics.
- black-box (an :class:`~shieldkit.verify.oracle.OnnxOracle`, or ``mode="black"``): ∇ₓ of the
  disagreement is estimated by forward differences through the oracle (DFME, Truong et al. 2021),
  :func:`~shieldkit.verify.zeroth_order.zo_gradient`, and back-propagated through G only. The
  teacher's logits are centred (zero mean per row), as DFME recovers them from probabilities.

Every teacher evaluation is an oracle query; with a budget the attack stops before exceeding it.
The student is scored on the real test split it never saw.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from shieldkit.data import Dataset
from shieldkit.engine import clean_accuracy
from shieldkit.errors import InputError
from shieldkit.progress import progress_bar
from shieldkit.models import create_model
from shieldkit.utils import resolve_device, seed_everything

from .bn_matching import BNStatistics
from .generator import Generator
from .oracle import Oracle, as_oracle
from .zeroth_order import zo_gradient

MODES = ("auto", "white", "black")


@dataclass
class DataFreeConfig:
    student: str = "cnn3"
    student_kwargs: dict = field(default_factory=lambda: {"width": 16})
    mode: str = "auto"  # auto: white-box when the oracle gives gradients, else black-box
    iterations: int = 200
    batch_size: int = 128
    student_steps: int = 5
    nz: int = 128
    ngf: int = 32
    lr_student: float = 0.1
    lr_generator: float = 1e-3
    bn_weight: float = 1.0  # DeepInversion BN-statistics matching, white-box only
    zo_directions: int = 1
    zo_epsilon: float | None = None  # None: 1e-3, or 2/255 for a uint8-input artefact (1e-3 rounds away)
    query_budget: int | None = None
    eval_every: int = 0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"unknown data-free mode {self.mode!r}; valid: {', '.join(MODES)}")
        if self.iterations < 1 or self.batch_size < 2 or self.student_steps < 1:
            raise InputError("data-free attack: iterations, student_steps >= 1 and batch_size >= 2 required")


def queries_per_iteration(cfg: DataFreeConfig, white: bool) -> int:
    generator = cfg.batch_size * (1 if white else cfg.zo_directions + 1)
    return generator + cfg.student_steps * cfg.batch_size


def _centred(logits: torch.Tensor) -> torch.Tensor:
    return logits - logits.mean(dim=1, keepdim=True)


def datafree_attack(oracle: Oracle | Any, data: Dataset, cfg: DataFreeConfig | None = None, *,
                    progress: bool = True) -> dict[str, Any]:
    """Train a student from ``oracle`` with generated images only; return its test accuracy and figures.

    ``data`` supplies only the image shape, the number of classes and the test split that scores the
    student; no training image is ever used.
    """
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

    cfg = cfg or DataFreeConfig()
    oracle = as_oracle(oracle)
    white = oracle.white_box if cfg.mode == "auto" else cfg.mode == "white"
    if white and not oracle.white_box:
        raise InputError("a white-box data-free attack needs a torch oracle (gradients); this oracle gives logits only")
    if cfg.query_budget is not None:
        oracle.budget = oracle.queries + cfg.query_budget
    epsilon = cfg.zo_epsilon or (2 / 255 if getattr(getattr(oracle, "spec", None), "dtype", "") == "uint8" else 1e-3)
    dev = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    rng = torch.Generator().manual_seed(cfg.seed)
    student = create_model(cfg.student, data.num_classes, mean=data.mean, std=data.std, **cfg.student_kwargs).to(dev)
    gen = Generator(cfg.nz, cfg.ngf, data.input_shape).to(dev)
    opt_s = torch.optim.SGD(student.parameters(), lr=cfg.lr_student, momentum=0.9, weight_decay=5e-4)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_generator)
    bn = BNStatistics(oracle.module) if white and cfg.bn_weight > 0 else None
    if bn is not None and len(bn) == 0:
        bn.remove()
        bn = None
    bn_used = bn is not None
    per_iteration = queries_per_iteration(cfg, white)
    q0, t0 = oracle.queries, time.perf_counter()
    history, stopped, done = [], "completed", 0
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[info]}"), TimeRemainingColumn())
    with progress_bar(progress, columns, transient=True) as bar:
        task = bar.add_task(f"data-free KD ({'white' if white else 'black'}-box)", total=cfg.iterations, info="")
        for it in range(cfg.iterations):
            if oracle.remaining is not None and oracle.remaining < per_iteration:
                stopped = "query budget"
                break
            lr = 0.5 * cfg.lr_student * (1 + math.cos(math.pi * it / cfg.iterations))
            for group in opt_s.param_groups:
                group["lr"] = lr
            # generator step: find images where student and teacher disagree
            gen.train()
            student.eval()
            x = gen.sample(cfg.batch_size, rng)
            if white:
                if bn is not None:
                    bn.active = True
                t = oracle.differentiable(x)
                if bn is not None:
                    bn.active = False
                loss_g = -F.l1_loss(student(x), t)
                if bn is not None:
                    loss_g = loss_g + cfg.bn_weight * bn.loss()
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
            else:
                def disagreement(images: torch.Tensor) -> torch.Tensor:
                    with torch.no_grad():
                        return (student(images) - _centred(oracle(images))).abs().mean(dim=1)

                grad, per_sample = zo_gradient(disagreement, x.detach(), cfg.zo_directions, epsilon, rng)
                loss_g = -per_sample.mean()
                opt_g.zero_grad(set_to_none=True)
                x.backward(-grad / len(x))  # ascend the estimated disagreement
            opt_g.step()
            # student steps: agree with the teacher on fresh generated images
            student.train()
            for _ in range(cfg.student_steps):
                with torch.no_grad():
                    x = gen.sample(cfg.batch_size, rng)
                    t = oracle(x) if white else _centred(oracle(x))
                loss_s = F.l1_loss(student(x), t)
                opt_s.zero_grad(set_to_none=True)
                loss_s.backward()
                opt_s.step()
            done = it + 1
            if not math.isfinite(loss_s.item()):
                stopped = "diverged (NaN loss)"
                break
            if cfg.eval_every and done % cfg.eval_every == 0 and done < cfg.iterations:
                history.append({"iteration": done, "queries": oracle.queries - q0,
                                "student_accuracy": clean_accuracy(student, data.test, device=dev)["accuracy"]})
                student.train()
            bar.update(task, advance=1, info=f"L_S {loss_s.item():.3f}  queries {oracle.queries - q0}")
    if bn is not None:
        bn.remove()
    accuracy = clean_accuracy(student, data.test, device=dev)["accuracy"]
    history.append({"iteration": done, "queries": oracle.queries - q0, "student_accuracy": accuracy})
    return {"student_accuracy": accuracy, "mode": "white-box" if white else "black-box", "iterations": done,
            "stopped": stopped, "queries": oracle.queries - q0, "seconds": time.perf_counter() - t0,
            "bn_matching": bn_used, "history": history,
            "settings": {**asdict(cfg), "zo_epsilon": epsilon if not white else None,
                         "queries_per_iteration": per_iteration}, "student": student}

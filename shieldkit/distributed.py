"""Multi-process training on PyTorch's own stack: ``torchrun`` + DistributedDataParallel.

``torchrun --nproc-per-node N -m shieldkit.cli protect ...`` sets RANK/WORLD_SIZE/LOCAL_RANK; the
engine then joins the process group (NCCL on CUDA, gloo on CPU), wraps the model in DDP and gives
each rank one contiguous 1/N slice of every global batch. Every rank draws the same shuffle and
augmentation from the shared seed, so the global batch is exactly the single-process one. Only
rank 0 shows progress and writes checkpoints, resume files and reports.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from .errors import InputError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def context() -> DistContext:
    """This process's place in a torchrun launch (a single process when not launched by torchrun)."""
    return DistContext(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                       int(os.environ.get("LOCAL_RANK", 0)))


def is_main_process() -> bool:
    return context().is_main


def init_distributed(device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group once (NCCL for CUDA, gloo for CPU); returns the context and this rank's device."""
    ctx = context()
    if not ctx.enabled:
        return ctx, device
    if device.type == "cuda":
        if torch.cuda.device_count() <= ctx.local_rank:
            raise InputError(f"rank {ctx.rank} needs GPU {ctx.local_rank} but only {torch.cuda.device_count()} are visible")
        torch.cuda.set_device(ctx.local_rank)
        device = torch.device("cuda", ctx.local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(shutdown)  # the library that joined the group leaves it, for the CLI and Python callers alike
    return ctx, device


def shutdown() -> None:
    """Leave the process group if this process joined one (idempotent; also run at exit)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device, ctx: DistContext) -> nn.Module:
    """DDP around ``model`` when launched by torchrun; the model itself otherwise."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (attacks run on it: input gradients need no gradient sync)."""
    return getattr(model, "module", model) if type(model).__name__ == "DistributedDataParallel" else model


def shard(batch: tuple[torch.Tensor, ...], ctx: DistContext) -> tuple[torch.Tensor, ...]:
    """This rank's contiguous slice of a global batch."""
    if not ctx.enabled:
        return batch
    return tuple(t.chunk(ctx.world_size)[ctx.rank] for t in batch)


def check_global_batch(batch_size: int, ctx: DistContext) -> None:
    if ctx.enabled and batch_size % ctx.world_size:
        raise InputError(f"the global batch size {batch_size} must be divisible by the {ctx.world_size} processes")


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum floats over ranks (for epoch statistics); identity in a single process."""
    if not context().enabled or not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()

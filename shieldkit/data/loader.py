"""The DataLoader data path: worker processes, pinned memory and persistent workers.

The default path (``iterate_batches``) slices the in-memory uint8 dataset on the device, with no
worker in the loop. This one feeds the same batches through ``torch.utils.data.DataLoader`` (workers
index and collate; crop/flip still run batched on the device), for datasets whose items cost CPU
time to produce. ``fit`` uses it with ``TrainConfig.loader="dataloader"``; ``benchmarks/throughput.py``
measures both paths.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import DataLoader

from ..errors import InputError
from .arrays import Augment, ImageArray, augment_batch, to_float

LOADERS = ("device", "dataloader")


class ArrayDataset(torch.utils.data.Dataset):
    """Items ``(uint8 HWC image, label)`` of an :class:`ImageArray`."""

    def __init__(self, data: ImageArray) -> None:
        self.x, self.y = data.x.cpu(), data.y.cpu()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


class LoaderBatches:
    """``batches(epoch)`` for ``fit``: one DataLoader kept across epochs (persistent workers), reseeded per epoch."""

    def __init__(self, data: ImageArray, batch_size: int, *, augment: Augment | None, seed: int,
                 device: torch.device, workers: int = 2, drop_last: bool = True) -> None:
        self.seed, self.device, self.augment = seed, device, augment
        self.generator = torch.Generator()
        self.loader = DataLoader(ArrayDataset(data), batch_size=batch_size, shuffle=True, generator=self.generator,
                                 drop_last=drop_last and len(data) >= batch_size, num_workers=workers,
                                 pin_memory=device.type == "cuda", persistent_workers=workers > 0)

    def __len__(self) -> int:
        return len(self.loader)

    def __call__(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.generator.manual_seed(self.seed * 1000 + epoch)
        aug_gen = torch.Generator().manual_seed(self.seed * 1000 + epoch + 7919)
        try:
            for xb, yb in self.loader:
                if self.augment is not None:
                    xb = augment_batch(xb, self.augment, aug_gen)
                yield to_float(xb.to(self.device, non_blocking=True)), yb.to(self.device, non_blocking=True)
        except InputError as e:  # raised in a worker (e.g. an unreadable file): torch re-raises it with the
            # worker's traceback inside the message; keep the one line the user needs
            raise InputError(str(e).strip().splitlines()[-1].split("InputError: ", 1)[-1]) from None

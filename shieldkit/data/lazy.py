"""Image files decoded on access, for image folders too large to hold in memory.

:class:`LazyImages` stands in for the uint8 (N, H, W, 3) tensor of an :class:`ImageArray`: indexing
with an int decodes one image, indexing with a slice, list or tensor decodes and stacks those
images, and :meth:`select` gives a lazy subset. Training on it goes through the DataLoader path
(``--loader dataloader``, chosen automatically), so the decoding runs in worker processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch


class LazyImages:
    dtype = torch.uint8
    device = torch.device("cpu")

    def __init__(self, paths: Sequence[Path], size: tuple[int, int],
                 read: Callable[[Path, tuple[int, int]], np.ndarray]) -> None:
        self.paths = list(paths)
        self.size = (int(size[0]), int(size[1]))
        self.read = read

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.paths), self.size[0], self.size[1], 3))

    def dim(self) -> int:
        return 4

    def __len__(self) -> int:
        return len(self.paths)

    def cpu(self) -> "LazyImages":
        return self

    def to(self, device) -> "LazyImages":  # decoded batches are moved by whoever reads them
        return self

    def _positions(self, index) -> list[int]:
        if isinstance(index, slice):
            return list(range(len(self.paths)))[index]
        if isinstance(index, torch.Tensor):
            index = index.tolist()
        return [int(i) for i in np.asarray(index).reshape(-1)]

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, (int, np.integer)):
            return torch.from_numpy(np.array(self.read(self.paths[int(index)], self.size)))  # writable copy
        images = [self.read(self.paths[i], self.size) for i in self._positions(index)]
        if not images:
            return torch.zeros((0, *self.size, 3), dtype=torch.uint8)
        return torch.from_numpy(np.stack(images))

    def select(self, index) -> "LazyImages":
        return LazyImages([self.paths[i] for i in self._positions(index)], self.size, self.read)

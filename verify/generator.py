"""The image generator of the data-free attacks (the DFAD / DFME architecture, images in [0, 1])."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Generator(nn.Module):
    """z ~ N(0, I) -> image in [0, 1]^(C×H×W).

    Linear(nz -> 2·ngf·(H/4)·(W/4)), BN, ×2 upsample, conv 3×3 (2·ngf), BN, LeakyReLU(0.2), ×2 upsample,
    conv 3×3 (ngf), BN, LeakyReLU(0.2), conv 3×3 (C), sigmoid. (DFAD ends with tanh + BN for inputs in
    [-1, 1]; shieldkit models take [0, 1], so a sigmoid.)
    """

    def __init__(self, nz: int = 128, ngf: int = 64, image_shape: tuple[int, int, int] = (3, 32, 32)) -> None:
        super().__init__()
        self.nz = nz
        self.image_shape = tuple(image_shape)
        c, h, w = image_shape
        self.init_hw = (max(1, h // 4), max(1, w // 4))
        self.fc = nn.Linear(nz, 2 * ngf * self.init_hw[0] * self.init_hw[1])
        self.bn0 = nn.BatchNorm2d(2 * ngf)
        self.block1 = nn.Sequential(nn.Conv2d(2 * ngf, 2 * ngf, 3, padding=1, bias=False), nn.BatchNorm2d(2 * ngf),
                                    nn.LeakyReLU(0.2, inplace=True))
        self.block2 = nn.Sequential(nn.Conv2d(2 * ngf, ngf, 3, padding=1, bias=False), nn.BatchNorm2d(ngf),
                                    nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ngf, c, 3, padding=1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.bn0(self.fc(z).view(len(z), -1, *self.init_hw))
        x = self.block1(F.interpolate(x, scale_factor=2, mode="nearest"))
        x = self.block2(F.interpolate(x, scale_factor=2, mode="nearest"))
        if tuple(x.shape[-2:]) != self.image_shape[1:]:
            x = F.interpolate(x, size=self.image_shape[1:], mode="bilinear", align_corners=False)
        return torch.sigmoid(x)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        dev = self.fc.weight.device
        return self(torch.randn(n, self.nz, generator=generator, device="cpu").to(dev))

"""A user's own network, defined outside shieldkit and loaded by import path (``--arch tests_helpers.mynet:build``)."""

from torch import nn


class MyNet(nn.Module):
    """Two conv blocks and a linear head; takes normalised images of any size (global average pooling)."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3, width: int = 8) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        return self.head(self.features(x))


def build(num_classes: int, in_chans: int = 3) -> nn.Module:
    return MyNet(num_classes, in_chans)


def not_a_module(num_classes: int):
    return "a string"

"""A small CNN for 32–64 px chips, trained from scratch."""

from __future__ import annotations

import torch
from torch import nn


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3×3 conv–BN–ReLU layers, then 2×2 max pooling."""
    layers: list[nn.Module] = []
    for channels in (in_channels, out_channels):
        layers += [
            nn.Conv2d(channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class SmallCNN(nn.Module):
    """Three conv stages (``width``, 2·, 4·``width`` channels), global average pool, linear to ``feature_dim``."""

    def __init__(self, feature_dim: int = 128, width: int = 32) -> None:
        super().__init__()
        if feature_dim < 1 or width < 1:
            raise ValueError(f"feature_dim and width must be positive, got {feature_dim} and {width}")
        self.feature_dim = feature_dim
        self.stages = nn.Sequential(_stage(3, width), _stage(width, 2 * width), _stage(2 * width, 4 * width))
        self.head = nn.Linear(4 * width, feature_dim)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Features ``[N, feature_dim]`` of ``[N, 3, H, W]`` inputs (H, W ≥ 8)."""
        return self.head(self.stages(pixels).mean(dim=(2, 3)))

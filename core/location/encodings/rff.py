"""Random Fourier features of the 3-D unit vector, with a seeded Gaussian frequency matrix."""

from __future__ import annotations

import math

import torch
from torch import nn

from core.location.encodings.xyz import unit_vectors


def gaussian_frequencies(count: int, dim: int, sigma: float, seed: int) -> torch.Tensor:
    """``[count, dim]`` matrix with entries N(0, σ²), reproducible from ``seed`` (CPU generator)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, dim, generator=generator) * sigma


class RFFEncoding(nn.Module):
    """[cos(2π·B p), sin(2π·B p)] for the unit vector p and B ~ N(0, σ²) ``[F, 3]`` → 2F features.

    ``sigma`` sets the frequency scale (in cycles per unit chord); B is a buffer drawn from ``seed``.
    """

    def __init__(self, num_frequencies: int = 256, sigma: float = 2.0, seed: int = 0) -> None:
        super().__init__()
        self.register_buffer("frequencies", gaussian_frequencies(num_frequencies, 3, sigma, seed))
        self.out_dim = 2 * num_frequencies

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        phase = (2.0 * math.pi) * (unit_vectors(lonlat) @ self.frequencies.T)
        return torch.cat([phase.cos(), phase.sin()], dim=1)

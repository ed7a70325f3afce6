"""NeRF positional encoding of the normalised coordinates."""

from __future__ import annotations

import math

import torch
from torch import nn


class NeRFEncoding(nn.Module):
    """sin/cos(2^k·π·v) for v = (lon/180, lat/90) and k = 0..K-1 → 4K features.

    Integer multiples of one longitude period, so it is exactly periodic (and continuous) across ±180°.
    Layout: [coordinate, k, (sin, cos)].
    """

    def __init__(self, num_frequencies: int = 10) -> None:
        super().__init__()
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(num_frequencies, dtype=torch.float32))
        self.out_dim = 4 * num_frequencies

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        normalised = lonlat / torch.tensor([180.0, 90.0], dtype=lonlat.dtype, device=lonlat.device)
        angles = normalised[:, :, None] * self.frequencies
        return torch.stack([angles.sin(), angles.cos()], dim=3).flatten(1)

"""The geo_prior "wrap" encoding: one sin/cos period over the longitude and latitude ranges."""

from __future__ import annotations

import math

import torch
from torch import nn


class WrapEncoding(nn.Module):
    """[sin(π·lon/180), cos(π·lon/180), sin(π·lat/90), cos(π·lat/90)] → 4 features."""

    out_dim = 4

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        angles = lonlat * torch.tensor([math.pi / 180.0, math.pi / 90.0], dtype=lonlat.dtype, device=lonlat.device)
        return torch.stack([angles.sin(), angles.cos()], dim=2).flatten(1)

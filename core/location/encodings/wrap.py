"""The geo_prior "wrap" encoding: one sin/cos period over the longitude and latitude ranges."""

from __future__ import annotations

import math

import torch
from torch import nn

from core.location.encodings.sinusoids import COS, SIN, sinusoid_rows, with_phases


class WrapEncoding(nn.Module):
    """[sin(π·lon/180), cos(π·lon/180), sin(π·lat/90), cos(π·lat/90)] → 4 features, computed in ``dtype``."""

    out_dim = 4

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        weight, phase = with_phases(torch.diag(torch.tensor([math.pi / 180.0, math.pi / 90.0], dtype=torch.float64)), (SIN, COS))
        self.register_buffer("weight", weight.to(dtype), persistent=False)
        self.register_buffer("phase", phase.to(dtype), persistent=False)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        return sinusoid_rows(lonlat.T, self.weight, self.phase).T

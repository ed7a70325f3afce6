"""The 3-D unit vector of a point on the sphere (also the input of the rbf and rff encodings)."""

from __future__ import annotations

import torch
from torch import nn


def unit_vectors(lonlat: torch.Tensor) -> torch.Tensor:
    """(lon, lat) degrees ``[N, 2]`` → [cos φ cos λ, cos φ sin λ, sin φ] ``[N, 3]``."""
    lon, lat = torch.deg2rad(lonlat).unbind(dim=1)
    cos_lat = lat.cos()
    return torch.stack([cos_lat * lon.cos(), cos_lat * lon.sin(), lat.sin()], dim=1)


class XYZEncoding(nn.Module):
    """Point on the unit sphere → 3 features."""

    out_dim = 3

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        return unit_vectors(lonlat)

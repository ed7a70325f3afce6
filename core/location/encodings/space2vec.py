"""Space2Vec multi-scale sinusoids on (lon, lat) degrees: the ``grid`` and ``theory`` variants."""

from __future__ import annotations

import math

import torch
from torch import nn

from core.location.scales import geometric_scales

DIRECTIONS = {
    "grid": ((1.0, 0.0), (0.0, 1.0)),
    "theory": ((1.0, 0.0), (-0.5, math.sqrt(3.0) / 2.0), (-0.5, -math.sqrt(3.0) / 2.0)),
}
"""Unit vectors a_j the point is projected on: the two axes (grid) or three at 120° (theory)."""


class Space2VecEncoding(nn.Module):
    """sin/cos(<x, a_j> / λ_s) for x = (lon, lat) in degrees → 2·J·S features (grid 4S, theory 6S).

    Scales λ_s = r_min·(r_max/r_min)^(s/(S-1)) in degrees; the CSP scripts use S=32, r_min=0.1,
    r_max=360. Layout: [direction j, scale s, (sin, cos)]. Not periodic in longitude by itself
    (the public entry wraps longitudes first), as in the papers.
    """

    def __init__(self, variant: str = "grid", num_scales: int = 32, r_min: float = 0.1, r_max: float = 360.0) -> None:
        super().__init__()
        if variant not in DIRECTIONS:
            raise ValueError(f"variant: must be one of {sorted(DIRECTIONS)}, got {variant!r}")
        self.variant = variant
        self.register_buffer("directions", torch.tensor(DIRECTIONS[variant], dtype=torch.float32))
        self.register_buffer("inv_scales", 1.0 / geometric_scales(num_scales, r_min, r_max))
        self.out_dim = 2 * len(DIRECTIONS[variant]) * num_scales

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        angles = (lonlat @ self.directions.T)[:, :, None] * self.inv_scales
        return torch.stack([angles.sin(), angles.cos()], dim=3).flatten(1)

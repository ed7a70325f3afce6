"""Sphere2Vec multi-scale encodings: sphereC, sphereC+, sphereM, sphereM+ and dfs in one module.

With φ = latitude and θ = longitude in radians, φ_s = φ/λ_s and θ_s = θ/λ_s over scales
λ_s = r_min·(r_max/r_min)^(s/(S-1)) (radians; the Sphere2Vec scripts use r_max = 1, r_min 1e-4..1e-2).
Each feature block below is ``[N, S]``; blocks are concatenated in the listed order:

- sphereC:  sin φ_s, cos φ_s cos θ_s, cos φ_s sin θ_s                                   → 3S
- sphereC+: sphereC + the grid terms it lacks: cos φ_s, sin θ_s, cos θ_s               → 6S
- sphereM:  sin φ_s, cos φ_s cos θ, cos φ cos θ_s, cos φ_s sin θ, cos φ sin θ_s        → 5S
- sphereM+: sphereM + cos φ_s, sin θ_s, cos θ_s                                        → 8S
- dfs:      sin φ_s, cos φ_s, sin θ_s, cos θ_s, then for every pair (n, m) of scales
            cos φ_n cos θ_m, cos φ_n sin θ_m, sin φ_n cos θ_m, sin φ_n sin θ_m          → 4S + 4S²
"""

from __future__ import annotations

import torch
from torch import nn

from core.location.scales import geometric_scales

VARIANTS = ("sphereC", "sphereC+", "sphereM", "sphereM+", "dfs")


def _blocks(variant: str, lat_s: torch.Tensor, lon_s: torch.Tensor, lat: torch.Tensor, lon: torch.Tensor) -> list[torch.Tensor]:
    """Feature blocks of ``variant`` from scaled angles ``[N, S]`` and plain angles ``[N, 1]``."""
    sin_lat_s, cos_lat_s, sin_lon_s, cos_lon_s = lat_s.sin(), lat_s.cos(), lon_s.sin(), lon_s.cos()
    grid_rest = [cos_lat_s, sin_lon_s, cos_lon_s]
    if variant in ("sphereC", "sphereC+"):
        blocks = [sin_lat_s, cos_lat_s * cos_lon_s, cos_lat_s * sin_lon_s]
    elif variant in ("sphereM", "sphereM+"):
        cos_lat = lat.cos()
        blocks = [sin_lat_s, cos_lat_s * lon.cos(), cos_lat * cos_lon_s, cos_lat_s * lon.sin(), cos_lat * sin_lon_s]
    else:  # dfs
        lat_terms = torch.stack([cos_lat_s, sin_lat_s], dim=2)[:, :, None, :, None]  # [N, S_n, 1, 2, 1]
        lon_terms = torch.stack([cos_lon_s, sin_lon_s], dim=2)[:, None, :, None, :]  # [N, 1, S_m, 1, 2]
        return [sin_lat_s, cos_lat_s, sin_lon_s, cos_lon_s, (lat_terms * lon_terms).flatten(1)]
    return blocks + grid_rest if variant.endswith("+") else blocks


class Sphere2VecEncoding(nn.Module):
    """One Sphere2Vec variant (see the module docstring for the formulas and the layout)."""

    def __init__(self, variant: str = "sphereC", num_scales: int = 32, r_min: float = 0.001, r_max: float = 1.0) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant: must be one of {list(VARIANTS)}, got {variant!r}")
        self.variant = variant
        self.register_buffer("inv_scales", 1.0 / geometric_scales(num_scales, r_min, r_max))
        per_scale = {"sphereC": 3, "sphereC+": 6, "sphereM": 5, "sphereM+": 8, "dfs": 4}[variant]
        self.out_dim = per_scale * num_scales + (4 * num_scales**2 if variant == "dfs" else 0)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        radians = torch.deg2rad(lonlat)
        lon, lat = radians[:, 0:1], radians[:, 1:2]
        return torch.cat(_blocks(self.variant, lat * self.inv_scales, lon * self.inv_scales, lat, lon), dim=1)

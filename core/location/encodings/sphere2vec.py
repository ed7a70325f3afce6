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

All sines and cosines come from one feature-major table (``sinusoid_rows``): rows cos/sin of φ_s and
θ_s, plus cos φ, cos θ, sin θ for sphereM(+); every other feature is a product of two of its rows.
"""

from __future__ import annotations

import math

import torch

from core.location.encodings.sinusoids import COS, SIN, DerivedTables, sinusoid_rows
from core.location.scales import geometric_scales

VARIANTS = ("sphereC", "sphereC+", "sphereM", "sphereM+", "dfs")
PER_SCALE = {"sphereC": 3, "sphereC+": 6, "sphereM": 5, "sphereM+": 8, "dfs": 4}
"""Feature blocks of S per variant (dfs adds its 4S² products)."""
DFS_ORDER = torch.tensor([1, 0, 3, 2])
"""The table blocks (cos φ_s, sin φ_s, cos θ_s, sin θ_s) in dfs's order (sin φ_s, cos φ_s, sin θ_s, cos θ_s)."""


def _blocks(variant: str, table: torch.Tensor, plain: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """The feature blocks ``[S, N]`` of a sphereC/M variant as factor pairs (a, b) → a·b, or (a, None) → a, from
    the table ``[4, S, N]`` (cos φ_s, sin φ_s, cos θ_s, sin θ_s) and the plain rows ``[3, N]`` (cos φ, cos θ, sin θ)."""
    cos_lat_s, sin_lat_s, cos_lon_s, sin_lon_s = table.unbind(dim=0)
    if variant.startswith("sphereC"):
        blocks = [(sin_lat_s, None), (cos_lat_s, cos_lon_s), (cos_lat_s, sin_lon_s)]
    else:
        cos_lat, cos_lon, sin_lon = plain[0:1], plain[1:2], plain[2:3]
        blocks = [(sin_lat_s, None), (cos_lat_s, cos_lon), (cos_lon_s, cos_lat), (cos_lat_s, sin_lon), (sin_lon_s, cos_lat)]
    return blocks + [(cos_lat_s, None), (sin_lon_s, None), (cos_lon_s, None)] if variant.endswith("+") else blocks


def _write_blocks(blocks: list[tuple[torch.Tensor, torch.Tensor | None]], out: torch.Tensor) -> torch.Tensor:
    """Write each block's product (or copy) straight into its rows of ``out`` ``[B, S, N]``."""
    for rows, (a, b) in zip(out, blocks):
        if b is None:
            rows.copy_(a)
        else:
            torch.mul(a, b, out=rows)
    return out


def _dfs(table: torch.Tensor, out_dim: int) -> torch.Tensor:
    """dfs feature rows ``[4S + 4S², N]`` from the table ``[4, S, N]``: the 4S² products
    P[n, m, a, b] = lat_a(n)·lon_b(m), lat = (cos φ, sin φ), lon = (cos θ, sin θ), in one broadcast multiply."""
    _, scales, n = table.shape
    out = table.new_empty(out_dim, n)
    torch.index_select(table, 0, DFS_ORDER.to(table.device), out=out[: 4 * scales].view(4, scales, n))
    lat = table[0:2].transpose(0, 1)[:, None, :, None]  # [n, 1, a, 1, N]
    lon = table[2:4].transpose(0, 1)[None, :, None, :]  # [1, m, 1, b, N]
    torch.mul(lat, lon, out=out[4 * scales :].view(scales, scales, 2, 2, n))
    return out


class Sphere2VecEncoding(DerivedTables):
    """One Sphere2Vec variant (see the module docstring for the formulas and the layout), computed in ``dtype``."""

    def __init__(
        self, variant: str = "sphereC", num_scales: int = 32, r_min: float = 0.001, r_max: float = 1.0, dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant: must be one of {list(VARIANTS)}, got {variant!r}")
        self.variant = variant
        self.register_buffer("inv_scales", (1.0 / geometric_scales(num_scales, r_min, r_max)).to(dtype))
        self.out_dim = PER_SCALE[variant] * num_scales + (4 * num_scales**2 if variant == "dfs" else 0)
        self.derive_tables()

    def derive_tables(self) -> None:
        """weight [4S (+3), 2 (lon, lat)] and phase: the table's rows as sines of degrees · weight + phase."""
        per_scale = self.inv_scales.double() * (math.pi / 180.0)  # φ_s = lat° · (π/180) / λ_s
        plain, none = torch.full((1,), math.pi / 180.0, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
        zeros = torch.zeros_like(per_scale)
        rows = [(zeros, per_scale, COS), (zeros, per_scale, SIN), (per_scale, zeros, COS), (per_scale, zeros, SIN)]
        if self.variant.startswith("sphereM"):  # cos φ, cos θ, sin θ
            rows += [(none, plain, COS), (plain, none, COS), (plain, none, SIN)]
        weight = torch.stack([torch.cat([lon for lon, _, _ in rows]), torch.cat([lat for _, lat, _ in rows])], dim=1)
        phase = torch.cat([torch.full_like(lon, value) for lon, _, value in rows])
        self.set_table("weight", weight, like=self.inv_scales)
        self.set_table("phase", phase, like=self.inv_scales)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        scales = self.inv_scales.shape[0]
        values = sinusoid_rows(lonlat.T, self.weight, self.phase)
        table = values[: 4 * scales].view(4, scales, -1)
        if self.variant == "dfs":
            return _dfs(table, self.out_dim).T
        out = values.new_empty(PER_SCALE[self.variant], scales, values.shape[1])
        return _write_blocks(_blocks(self.variant, table, values[4 * scales :]), out).flatten(0, 1).T

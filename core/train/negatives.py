"""Random negative locations for CSP, drawn in torch (no numpy round trip per batch).

``sphere``: uniform on the sphere (lat = asin(u), u ~ U(-1, 1)) — never uniform in degrees.
``land``: uniform on the sphere, restricted to land (MODIS land cover ≠ water), by rejection.
``near``: uniform on the spherical cap of radius ``radius_km`` around each positive (hard negatives).
"""

from __future__ import annotations

import math

import torch

from core.coords import EARTH_RADIUS_KM

NEGATIVE_SAMPLERS = {
    "sphere": "uniform on the sphere",
    "land": "uniform on the sphere, land only (MODIS land cover)",
    "near": "uniform within a radius of the positive location (hard negatives)",
}


def sphere_points(n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` (lon, lat) points uniform on the sphere, float32 ``[n, 2]``."""
    u = torch.rand(n, 2, generator=generator)
    lon = u[:, 0] * 360.0 - 180.0
    lat = torch.rad2deg(torch.asin(u[:, 1] * 2.0 - 1.0))
    return torch.stack([lon, lat], dim=1)


def cap_points(centres: torch.Tensor, radius_km: float, k: int, generator: torch.Generator) -> torch.Tensor:
    """``k`` points uniform on the cap of ``radius_km`` around each centre: ``[B, k, 2]``."""
    angular = min(radius_km / EARTH_RADIUS_KM, math.pi)
    u = torch.rand(len(centres), k, 2, generator=generator)
    distance = torch.acos(1.0 - u[..., 0] * (1.0 - math.cos(angular)))  # area-uniform on the cap
    bearing = u[..., 1] * 2.0 * math.pi
    lon0 = torch.deg2rad(centres[:, None, 0])
    lat0 = torch.deg2rad(centres[:, None, 1])
    lat = torch.asin(
        (torch.sin(lat0) * torch.cos(distance) + torch.cos(lat0) * torch.sin(distance) * torch.cos(bearing)).clamp(-1, 1)
    )
    lon = lon0 + torch.atan2(
        torch.sin(bearing) * torch.sin(distance) * torch.cos(lat0),
        torch.cos(distance) - torch.sin(lat0) * torch.sin(lat),
    )
    lon = torch.remainder(torch.rad2deg(lon) + 180.0, 360.0) - 180.0
    return torch.stack([lon, torch.rad2deg(lat)], dim=-1)


class NegativeSampler:
    """Draws ``[B, k, 2]`` negative (lon, lat) locations for a batch of positives."""

    def __init__(self, kind: str = "sphere", radius_km: float = 500.0, land_mask: torch.Tensor | None = None) -> None:
        if kind not in NEGATIVE_SAMPLERS:
            raise ValueError(f"negative_sampler: unknown {kind!r}; choose from {sorted(NEGATIVE_SAMPLERS)}")
        if kind == "land" and land_mask is None:
            land_mask = default_land_mask()
        self.kind = kind
        self.radius_km = radius_km
        self.land_mask = land_mask

    def __call__(self, positives: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        n = len(positives) * k
        if self.kind == "near":
            return cap_points(positives, self.radius_km, k, generator)
        if self.kind == "sphere":
            return sphere_points(n, generator).reshape(len(positives), k, 2)
        return self._land_points(n, generator).reshape(len(positives), k, 2)

    def _land_points(self, n: int, generator: torch.Generator) -> torch.Tensor:
        found: list[torch.Tensor] = []
        count = 0
        while count < n:
            candidates = sphere_points(4 * (n - count) + 16, generator)
            kept = candidates[self._is_land(candidates)]
            found.append(kept)
            count += len(kept)
        return torch.cat(found)[:n]

    def _is_land(self, lonlat: torch.Tensor) -> torch.Tensor:
        height, width = self.land_mask.shape
        cols = ((lonlat[:, 0] + 180.0) / 360.0 * width).long().clamp(0, width - 1)
        rows = ((90.0 - lonlat[:, 1]) / 180.0 * height).long().clamp(0, height - 1)
        return self.land_mask[rows, cols]


def default_land_mask() -> torch.Tensor:
    """Boolean ``[3600, 7200]`` land mask from the MODIS land-cover raster (class 0 is water)."""
    from core.data.sources import load_raster

    return torch.from_numpy(load_raster("landcover").array != 0)

"""Real orthonormal spherical harmonics Y_l^m, l < L, from the stable associated-Legendre recurrence.

Normalised Legendre functions P̄_l^m(x), x = sin(lat), are built column by column in m:
P̄_m^m = sqrt(1/4π)·Π_{k≤m} sqrt((2k+1)/2k)·cos(lat)^m, then along l with
P̄_l^m = a_lm (x P̄_{l-1}^m − b_lm P̄_{l-2}^m), a_lm = sqrt((4l²−1)/(l²−m²)),
b_lm = sqrt(((l−1)²−m²)/(4(l−1)²−1)). The loop runs over k = l − m (L steps), each vectorised over
all m < L − k and all points, writing its rows straight into a feature-major table. Y_l^m = P̄_l^|m|·{1, √2 cos(mλ), √2 sin(|m|λ)} for m = 0, > 0, < 0, without the
Condon–Shortley phase, so ∫ Y_l^m Y_l'^m' dΩ = δ over the unit sphere. Feature l² + l + m holds Y_l^m.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MAX_DEGREE = 60
"""Largest L accepted; L = 40 (1 600 features) is the largest SatCLIP uses and is tested for normalisation."""


def _recurrence_tables(degree: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Diagonal seeds c_m ``[L]`` and coefficients a, b ``[L (= l − m), L (= m)]``; zero where l ≥ L."""
    m = torch.arange(degree, dtype=torch.float64)
    growth = torch.sqrt((2 * m[1:] + 1) / (2 * m[1:]))
    diagonal = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(growth, 0)]) / math.sqrt(4 * math.pi)
    k = torch.arange(degree, dtype=torch.float64)[:, None]
    l = k + m  # [L, L]
    valid = (k >= 1) & (l < degree)
    a = torch.where(valid, torch.sqrt((4 * l**2 - 1) / (l**2 - m**2).clamp_min(1)), torch.zeros(()))
    b = torch.where(valid, torch.sqrt(((l - 1) ** 2 - m**2).clamp_min(0) / (4 * (l - 1) ** 2 - 1).clamp_min(1)), torch.zeros(()))
    return diagonal, a, b


def _output_rows(degree: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature rows l² + l ± m of P̄_{m+k}^m for k = 0..L-1 and m = 0..L-1-k (cos part) or 1..L-1-k (sin part), flat."""
    cos_rows, sin_rows = [], []
    for k in range(degree):
        for m in range(degree - k):
            l = m + k
            cos_rows.append(l * l + l + m)
            if m > 0:
                sin_rows.append(l * l + l - m)
    return torch.tensor(cos_rows), torch.tensor(sin_rows)


def degree_error(degree: int) -> str | None:
    """Why ``degree`` cannot be used, or None: it must be in 1..MAX_DEGREE."""
    return None if 1 <= degree <= MAX_DEGREE else f"must be in 1..{MAX_DEGREE}"


class SphericalHarmonicsEncoding(nn.Module):
    """Real orthonormal Y_l^m for l < ``degree`` (L) → L² features (see the module docstring), computed in ``dtype``."""

    def __init__(self, degree: int = 10, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if (error := degree_error(degree)) is not None:
            raise ValueError(f"degree: {error}, got {degree!r}")
        self.degree = degree
        self.out_dim = degree**2
        diagonal, a, b = _recurrence_tables(degree)
        cos_rows, sin_rows = _output_rows(degree)
        trig_factor = torch.full((degree,), math.sqrt(2.0))
        trig_factor[0] = 1.0
        tables = {"diagonal": diagonal, "a": a, "b": b, "orders": torch.arange(degree, dtype=torch.float64), "trig_factor": trig_factor}
        for name, value in tables.items():
            self.register_buffer(name, value.to(dtype)[..., None], persistent=False)
        self.register_buffer("cos_rows", cos_rows, persistent=False)
        self.register_buffer("sin_rows", sin_rows, persistent=False)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``; the result is a transposed view of a feature-major table."""
        lon, lat = torch.deg2rad(lonlat).unbind(dim=1)
        sin_lat, cos_lat = lat.sin(), lat.cos().clamp_min(0.0)
        angles = self.orders * lon  # [L (m), N]
        cos_m, sin_m = angles.cos() * self.trig_factor, angles.sin() * self.trig_factor
        out = lonlat.new_empty(self.out_dim, lonlat.shape[0])
        current = self.diagonal * cos_lat**self.orders  # P̄_m^m, [L (m), N]
        previous = torch.zeros_like(current)
        offset = 0
        for k in range(self.degree):  # row m of `current` holds P̄_{m+k}^m
            n = self.degree - k
            if k > 0:
                current, previous = self.a[k, :n] * (sin_lat * current[:n] - self.b[k, :n] * previous[:n]), current[:n]
            out.index_copy_(0, self.cos_rows[offset : offset + n], current * cos_m[:n])
            out.index_copy_(0, self.sin_rows[offset - k : offset - k + n - 1], current[1:] * sin_m[1:n])
            offset += n
        return out.T

"""Multi-resolution encoding: spherical harmonics (global structure) beside a learned multi-resolution hash grid
over the unit sphere (detail where the training data is dense), in the spirit of Instant-NGP (Müller et al. 2022).

The hash grid covers the cube [-1, 1]³ around the unit sphere with ``levels`` grids whose cell edges run
geometrically from ``coarsest_km`` to ``finest_km`` (measured on the Earth's surface: a cell of edge 2/N on the
unit sphere is 2R/N km). At each level a point's unit vector falls in one cell; the features stored at the cell's
8 corners are blended trilinearly (continuous across cell faces, so the features never jump). A corner (i, j, k)
reads row (i·s₀ + j·s₁ + k·s₂) mod T of the level's table of T = 2^``log2_table_size`` rows: with
strides (1, N+1, (N+1)²) where every corner of the level fits (a dense grid, no collisions), else with the large
primes of the spatial hash (Teschner et al. 2003) summed instead of XOR-ed, so the graph is integer
multiply-add, modulo and gather, all of which export to ONNX and TorchScript.

The tables start at zero: an untrained encoding is the harmonics plus zeros, and a cell no training point ever
reached stays zero (it adds nothing where there was no data to learn from). The geometry (unit vector, cell and
blend weights) is computed in float64 and the weights rounded once to the encoding's dtype, so an exported graph
finds the same cells and weights as torch.

The defaults (6 levels of 2 features, cells of 1 000 km down to 50 km, 2^18 rows a level: 3.1 M parameters) are the
variant that pre-trained best on the default dataset, whose places lie ~80 km apart on average: a first try with 8
levels of 4 features down to 15 km in 2^14-row tables memorised the training places (validation loss lowest at
epoch 3), its hashed levels read other places' rows elsewhere, and it lost coast distance and geolocation
(docs/benchmarks.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.coords import EARTH_RADIUS_KM
from core.location.encodings.harmonics import SphericalHarmonicsEncoding
from core.location.encodings.xyz import unit_vector_rows, unit_vector_tables

HASH_PRIMES = (1, 2_654_435_761, 805_459_861)
"""Per-axis multipliers of the spatial hash (Instant-NGP's); products stay far below 2⁶³ for any grid used here."""
MAX_LOG2_TABLE_SIZE = 24
CORNERS = torch.tensor([[(c >> axis) & 1 for axis in range(3)] for c in range(8)])
"""The 8 corner offsets of a cell, ``[8, 3]`` (0 or 1 per axis)."""


def level_resolutions(levels: int, coarsest_km: float, finest_km: float) -> list[int]:
    """Cells per axis N_l of each level: cell edges coarsest_km · (finest_km / coarsest_km)^(l / (levels − 1)) on the
    Earth's surface, N_l = ceil(2R / edge) (at least 1)."""
    if not 0 < finest_km <= coarsest_km:
        raise ValueError(f"finest_km: must be > 0 and <= coarsest_km ({coarsest_km:g}), got {finest_km!r}")
    ratio = finest_km / coarsest_km
    edges = [coarsest_km * ratio ** (level / max(levels - 1, 1)) for level in range(levels)]
    return [max(1, math.ceil(2.0 * EARTH_RADIUS_KM / edge)) for edge in edges]


def table_size_error(log2_table_size: int) -> str | None:
    """Why ``log2_table_size`` cannot be used, or None: it must be in 4..MAX_LOG2_TABLE_SIZE."""
    return None if 4 <= log2_table_size <= MAX_LOG2_TABLE_SIZE else f"must be in 4..{MAX_LOG2_TABLE_SIZE}"


class HashGrid(nn.Module):
    """Learned features of a point on the unit sphere at ``levels`` resolutions → ``levels · features_per_level``
    features (level-major), parameters in ``dtype``. See the module docstring."""

    def __init__(
        self,
        levels: int = 6,
        features_per_level: int = 2,
        log2_table_size: int = 18,
        coarsest_km: float = 1000.0,
        finest_km: float = 50.0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        for key, value in (("levels", levels), ("features_per_level", features_per_level)):
            if value < 1:
                raise ValueError(f"{key}: must be >= 1, got {value!r}")
        if (error := table_size_error(log2_table_size)) is not None:
            raise ValueError(f"log2_table_size: {error}, got {log2_table_size!r}")
        self.resolutions = level_resolutions(levels, coarsest_km, finest_km)
        self.table_size = 2**log2_table_size
        self.out_dim = levels * features_per_level
        strides = [(1, n + 1, (n + 1) ** 2) if (n + 1) ** 3 <= self.table_size else HASH_PRIMES for n in self.resolutions]
        self.table = nn.Parameter(torch.zeros(levels * self.table_size, features_per_level, dtype=dtype))
        tables = {
            "scale": torch.tensor(self.resolutions, dtype=torch.float64)[:, None, None] / 2.0,  # [L, 1, 1]: (xyz + 1) · N/2
            "upper": torch.tensor(self.resolutions, dtype=torch.float64)[:, None, None] - 1.0,
            "strides": torch.tensor(strides, dtype=torch.int64)[:, None, None, :],  # [L, 1, 1, 3]
            "offsets": (torch.arange(levels, dtype=torch.int64) * self.table_size)[:, None, None],  # [L, 1, 1]
            "corners": CORNERS.clone(),
        }
        for name, value in tables.items():
            self.register_buffer(name, value, persistent=False)
        unit_weight, unit_phase = unit_vector_tables(torch.float64)
        self.register_buffer("unit_weight", unit_weight, persistent=False)
        self.register_buffer("unit_phase", unit_phase, persistent=False)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Features of (lon, lat) degrees ``[N, 2]``: ``[N, levels · features_per_level]`` in the table's dtype."""
        xyz = unit_vector_rows(lonlat.double(), self.unit_weight, self.unit_phase).T  # [N, 3], float64
        position = (xyz + 1.0) * self.scale  # [L, N, 3] in [0, N_l]
        cell = torch.minimum(position.floor(), self.upper).clamp_min(0.0)
        fraction = (position - cell).clamp(0.0, 1.0)
        corner = cell.long()[:, :, None, :] + self.corners  # [L, N, 8, 3]
        rows = torch.remainder((corner * self.strides).sum(dim=3), self.table_size) + self.offsets  # [L, N, 8]
        blend = torch.where(self.corners.bool(), fraction[:, :, None, :], 1.0 - fraction[:, :, None, :]).prod(dim=3)
        values = self.table[rows]  # [L, N, 8, F]
        features = (blend.to(self.table.dtype)[..., None] * values).sum(dim=2)  # [L, N, F]
        return features.permute(1, 0, 2).reshape(lonlat.shape[0], self.out_dim)


class MultiResolutionEncoding(nn.Module):
    """Spherical harmonics of degree < ``degree`` (L² features) followed by a :class:`HashGrid`'s features, in ``dtype``."""

    def __init__(
        self,
        degree: int = 10,
        levels: int = 6,
        features_per_level: int = 2,
        log2_table_size: int = 18,
        coarsest_km: float = 1000.0,
        finest_km: float = 50.0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.harmonics = SphericalHarmonicsEncoding(degree, dtype=dtype)
        self.grid = HashGrid(levels, features_per_level, log2_table_size, coarsest_km, finest_km, dtype=dtype)
        self.out_dim = self.harmonics.out_dim + self.grid.out_dim

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        return torch.cat([self.harmonics(lonlat), self.grid(lonlat)], dim=1)

"""One-hot lat/lon tile baseline: each point lights the single grid cell it falls in."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def cell_size_error(cell_size: float) -> str | None:
    """Why ``cell_size`` (degrees) cannot be used, or None: it must be a positive divisor of 180."""
    if cell_size > 0 and abs(180.0 / cell_size - round(180.0 / cell_size)) < 1e-9:
        return None
    return "must be a positive divisor of 180 degrees"


class TileEncoding(nn.Module):
    """One-hot of the ``cell_size`` × ``cell_size`` degree cell (row-major: latitude band, then longitude).

    ``cell_size`` must divide 180; latitude 90 falls in the top band. (180/c)·(360/c) features.
    """

    def __init__(self, cell_size: float = 10.0) -> None:
        super().__init__()
        if (error := cell_size_error(cell_size)) is not None:
            raise ValueError(f"cell_size: {error}, got {cell_size!r}")
        self.cell_size = float(cell_size)
        self.n_lat = round(180.0 / cell_size)
        self.n_lon = 2 * self.n_lat
        self.out_dim = self.n_lat * self.n_lon

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        col = torch.floor((lonlat[:, 0] + 180.0) / self.cell_size).long().remainder(self.n_lon)
        row = torch.floor((lonlat[:, 1] + 90.0) / self.cell_size).long().clamp(0, self.n_lat - 1)
        return F.one_hot(row * self.n_lon + col, self.out_dim).to(lonlat.dtype)

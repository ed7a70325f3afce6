"""One-hot lat/lon tile baseline: each point lights the single grid cell it falls in."""

from __future__ import annotations

import torch
from torch import nn


def cell_size_error(cell_size: float) -> str | None:
    """Why ``cell_size`` (degrees) cannot be used, or None: it must be a positive divisor of 180."""
    if cell_size > 0 and abs(180.0 / cell_size - round(180.0 / cell_size)) < 1e-9:
        return None
    return "must be a positive divisor of 180 degrees"


class TileEncoding(nn.Module):
    """One-hot of the ``cell_size`` × ``cell_size`` degree cell (row-major: latitude band, then longitude).

    ``cell_size`` must divide 180; latitude 90 falls in the top band. (180/c)·(360/c) features of
    ``dtype``. The cost is writing the dense one-hot (zero fill, then one store per point); cells are
    floor((lon + 180)/c) and floor((lat + 90)/c), exact at cell edges given in whole degrees.
    """

    def __init__(self, cell_size: float = 10.0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if (error := cell_size_error(cell_size)) is not None:
            raise ValueError(f"cell_size: {error}, got {cell_size!r}")
        self.cell_size = float(cell_size)
        self.n_lat = round(180.0 / cell_size)
        self.n_lon = 2 * self.n_lat
        self.out_dim = self.n_lat * self.n_lon
        self.register_buffer("origin", torch.tensor([[180.0], [90.0]], dtype=dtype), persistent=False)

    def cells(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Index (int64 ``[N]``) of the cell each (lon, lat) degree point falls in; longitudes are taken modulo 360."""
        column, band = torch.add(lonlat.T, self.origin).div_(self.cell_size).floor_()
        turns = torch.div(column, self.n_lon).floor_()  # whole turns around the globe (0 for wrapped input)
        band = band.clamp_(0, self.n_lat - 1).sub_(turns)
        return torch.add(column, band, alpha=self.n_lon).long()  # column - n_lon·turns + n_lon·band

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        out = self.origin.new_zeros(lonlat.shape[0], self.out_dim)
        return out.index_put_((torch.arange(lonlat.shape[0], device=out.device), self.cells(lonlat)), out.new_ones(()))

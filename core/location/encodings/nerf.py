"""NeRF positional encoding of the normalised coordinates."""

from __future__ import annotations

import math

import torch

from core.location.encodings.sinusoids import COS, SIN, DerivedTables, sinusoid_rows, with_phases


class NeRFEncoding(DerivedTables):
    """sin/cos(2^k·π·v) for v = (lon/180, lat/90) and k = 0..K-1 → 4K features.

    Integer multiples of one longitude period, so it is exactly periodic (and continuous) across ±180°.
    Layout: [coordinate, k, (sin, cos)]. Computed in ``dtype``.
    """

    def __init__(self, num_frequencies: int = 10, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.register_buffer("frequencies", (math.pi * 2.0 ** torch.arange(num_frequencies, dtype=torch.float64)).to(dtype))
        self.out_dim = 4 * num_frequencies
        self.derive_tables()

    def derive_tables(self) -> None:
        """weight [2·K·2, 2]: row (c, k, ·) holds 2^k·π / (180 or 90) on coordinate c; phase (0, π/2)."""
        per_degree = torch.diag(torch.tensor([1.0 / 180.0, 1.0 / 90.0], dtype=torch.float64))
        weight, phase = with_phases((per_degree[:, None, :] * self.frequencies.double()[None, :, None]).flatten(0, 1), (SIN, COS))
        self.set_table("weight", weight, like=self.frequencies)
        self.set_table("phase", phase, like=self.frequencies)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        return sinusoid_rows(lonlat.T, self.weight, self.phase).T

"""Space2Vec multi-scale sinusoids on (lon, lat) degrees: the ``grid`` and ``theory`` variants."""

from __future__ import annotations

import math

import torch

from core.location.encodings.sinusoids import COS, SIN, DerivedTables, sinusoid_rows, with_phases
from core.location.scales import geometric_scales

DIRECTIONS = {
    "grid": ((1.0, 0.0), (0.0, 1.0)),
    "theory": ((1.0, 0.0), (-0.5, math.sqrt(3.0) / 2.0), (-0.5, -math.sqrt(3.0) / 2.0)),
}
"""Unit vectors a_j the point is projected on: the two axes (grid) or three at 120° (theory)."""


class Space2VecEncoding(DerivedTables):
    """sin/cos(<x, a_j> / λ_s) for x = (lon, lat) in degrees → 2·J·S features (grid 4S, theory 6S).

    Scales λ_s = r_min·(r_max/r_min)^(s/(S-1)) in degrees; the CSP scripts use S=32, r_min=0.1,
    r_max=360. Layout: [direction j, scale s, (sin, cos)]. Not periodic in longitude by itself
    (the public entry wraps longitudes first), as in the papers. Computed in ``dtype`` (inputs must
    have it): every feature is one sine of x·(a_j/λ_s) + phase (see ``sinusoids``).
    """

    def __init__(
        self, variant: str = "grid", num_scales: int = 32, r_min: float = 0.1, r_max: float = 360.0, dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        if variant not in DIRECTIONS:
            raise ValueError(f"variant: must be one of {sorted(DIRECTIONS)}, got {variant!r}")
        self.variant = variant
        self.register_buffer("directions", torch.tensor(DIRECTIONS[variant], dtype=torch.float64).to(dtype))
        self.register_buffer("inv_scales", (1.0 / geometric_scales(num_scales, r_min, r_max)).to(dtype))
        self.out_dim = 2 * len(DIRECTIONS[variant]) * num_scales
        self.derive_tables()

    def derive_tables(self) -> None:
        """weight [J·S·2, 2]: row (j, s, ·) holds a_j / λ_s; phase: (0, π/2) per (j, s)."""
        per_scale = self.directions.double()[:, None, :] * self.inv_scales.double()[None, :, None]  # [j, s, coordinate]
        weight, phase = with_phases(per_scale.flatten(0, 1), (SIN, COS))
        self.set_table("weight", weight, like=self.inv_scales)
        self.set_table("phase", phase, like=self.inv_scales)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        return sinusoid_rows(lonlat.T, self.weight, self.phase).T

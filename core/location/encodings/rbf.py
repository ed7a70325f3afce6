"""Gaussian radial basis functions around M centres on the sphere."""

from __future__ import annotations

import math

import torch

from core.location.encodings.sinusoids import DerivedTables, linear_rows
from core.location.encodings.xyz import exact_unit_vectors, register_unit_vector_tables, unit_vector_rows, unit_vector_tables


def kernel_size_error(kernel_size: float) -> str | None:
    """Why ``kernel_size`` (degrees) cannot be used, or None: it must be in (0, 180]."""
    return None if 0.0 < kernel_size <= 180.0 else "must be in (0, 180] degrees"


class RBFEncoding(DerivedTables):
    """exp(-‖p - c_m‖² / (2 s²)) for the unit vectors p of the point and c_m of each centre → M features.

    Distances are chords on the unit sphere (periodic in longitude, smooth at the poles);
    ``kernel_size`` is the kernel's width as a great-circle angle in degrees, s = 2·sin(kernel_size/2).
    ``centers`` (lon, lat) degrees ``[M, 2]`` are a buffer, so they travel with the state dict. With
    ‖p - c‖² = 2 - 2 p·c the exponent is p·(c/s²) - 1/s², one multiply-add per coordinate (clamped at 0
    where rounding would make a chord negative). Computed in ``dtype``.
    """

    def __init__(self, centers: torch.Tensor, kernel_size: float = 10.0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if (error := kernel_size_error(kernel_size)) is not None:
            raise ValueError(f"kernel_size: {error}, got {kernel_size!r}")
        self.register_buffer("centers", torch.as_tensor(centers, dtype=torch.float64).reshape(-1, 2).to(dtype))
        register_unit_vector_tables(self, torch.float64)  # see forward
        self.kernel_size = float(kernel_size)
        self.out_dim = self.centers.shape[0]
        self.inv_variance = 1.0 / (2.0 * math.sin(math.radians(kernel_size) / 2.0)) ** 2
        self.derive_tables()

    def derive_tables(self) -> None:
        """weight [M, 3] = unit vectors of the centres / s² (computed in float64) and bias -1/s²."""
        weight = unit_vector_rows(self.centers.double(), *unit_vector_tables(torch.float64)).T * self.inv_variance
        self.set_table("weight", weight, like=self.centers)
        self.set_table("bias", torch.full((self.out_dim,), -self.inv_variance, dtype=torch.float64), like=self.centers)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        exponent = linear_rows(exact_unit_vectors(lonlat, self.unit_weight, self.unit_phase), self.weight, self.bias)
        return exponent.clamp_max_(0.0).exp_().T

"""Gaussian radial basis functions around M centres on the sphere."""

from __future__ import annotations

import math

import torch
from torch import nn

from core.location.encodings.xyz import unit_vectors


def kernel_size_error(kernel_size: float) -> str | None:
    """Why ``kernel_size`` (degrees) cannot be used, or None: it must be in (0, 180]."""
    return None if 0.0 < kernel_size <= 180.0 else "must be in (0, 180] degrees"


class RBFEncoding(nn.Module):
    """exp(-‖p - c_m‖² / (2 s²)) for the unit vectors p of the point and c_m of each centre → M features.

    Distances are chords on the unit sphere (periodic in longitude, smooth at the poles);
    ``kernel_size`` is the kernel's width as a great-circle angle in degrees, s = 2·sin(kernel_size/2).
    ``centers`` (lon, lat) degrees ``[M, 2]`` are a buffer, so they travel with the state dict.
    """

    def __init__(self, centers: torch.Tensor, kernel_size: float = 10.0) -> None:
        super().__init__()
        if (error := kernel_size_error(kernel_size)) is not None:
            raise ValueError(f"kernel_size: {error}, got {kernel_size!r}")
        self.register_buffer("centers", torch.as_tensor(centers, dtype=torch.float32).reshape(-1, 2).clone())
        self.kernel_size = float(kernel_size)
        self.out_dim = self.centers.shape[0]
        chord = 2.0 * math.sin(math.radians(kernel_size) / 2.0)
        self.inv_two_var = 1.0 / (2.0 * chord**2)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        cosine = unit_vectors(lonlat) @ unit_vectors(self.centers).T
        squared_chord = (2.0 - 2.0 * cosine).clamp_min(0.0)
        return torch.exp(-squared_chord * self.inv_two_var)

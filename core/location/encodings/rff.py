"""Random Fourier features of the 3-D unit vector, with a seeded Gaussian frequency matrix."""

from __future__ import annotations

import math

import torch

from core.location.encodings.sinusoids import COS, SIN, DerivedTables, sinusoid_rows
from core.location.encodings.xyz import exact_unit_vectors, register_unit_vector_tables


def gaussian_frequencies(count: int, dim: int, sigma: float, seed: int) -> torch.Tensor:
    """``[count, dim]`` matrix with entries N(0, σ²), reproducible from ``seed`` (CPU generator)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, dim, generator=generator) * sigma


class RFFEncoding(DerivedTables):
    """[cos(2π·B p), sin(2π·B p)] for the unit vector p and B ~ N(0, σ²) ``[F, 3]`` → 2F features.

    ``sigma`` sets the frequency scale (in cycles per unit chord); B is a buffer drawn from ``seed``
    (float32 draws, held in ``dtype``, the precision the features are computed in).
    """

    def __init__(self, num_frequencies: int = 256, sigma: float = 2.0, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.register_buffer("frequencies", gaussian_frequencies(num_frequencies, 3, sigma, seed).to(dtype))
        register_unit_vector_tables(self, torch.float64)  # see forward
        self.out_dim = 2 * num_frequencies
        self.derive_tables()

    def derive_tables(self) -> None:
        """weight [2F, 3] = 2π·B twice (cos block, then sin block) and its phase."""
        cycles = (2.0 * math.pi) * self.frequencies.double()
        self.set_table("weight", torch.cat([cycles, cycles]), like=self.frequencies)
        phase = torch.tensor([COS, SIN], dtype=torch.float64).repeat_interleave(len(cycles))
        self.set_table("phase", phase, like=self.frequencies)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        return sinusoid_rows(exact_unit_vectors(lonlat, self.unit_weight, self.unit_phase), self.weight, self.phase).T

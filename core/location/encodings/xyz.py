"""The 3-D unit vector of a point on the sphere (also the input of the rbf and rff encodings)."""

from __future__ import annotations

import math

import torch
from torch import nn

from core.location.encodings.sinusoids import COS, SIN, sinusoid_rows

_RADIAN = math.pi / 180.0
UNIT_VECTOR_TABLE = ((0.0, _RADIAN, COS), (_RADIAN, 0.0, COS), (_RADIAN, 0.0, SIN), (0.0, _RADIAN, SIN))
"""(lon coefficient, lat coefficient, phase) of the table's rows cos φ, cos λ, sin λ, sin φ."""


def unit_vector_tables(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """weight [4, 2] and phase [4] whose ``sinusoid_rows`` of (lon, lat) degree rows are (cos φ, cos λ, sin λ, sin φ)."""
    weight = torch.tensor([[lon, lat] for lon, lat, _ in UNIT_VECTOR_TABLE], dtype=torch.float64)
    return weight.to(dtype), torch.tensor([phase for _, _, phase in UNIT_VECTOR_TABLE], dtype=dtype)


def register_unit_vector_tables(module: nn.Module, dtype: torch.dtype) -> None:
    """Give ``module`` the :func:`unit_vector_tables` as non-persistent buffers ``unit_weight`` and ``unit_phase``."""
    weight, phase = unit_vector_tables(dtype)
    module.register_buffer("unit_weight", weight, persistent=False)
    module.register_buffer("unit_phase", phase, persistent=False)


def unit_vector_rows(lonlat: torch.Tensor, weight: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """(lon, lat) degrees ``[N, 2]`` → rows [cos φ cos λ, cos φ sin λ, sin φ] ``[3, N]``, given :func:`unit_vector_tables`."""
    table = sinusoid_rows(lonlat.T, weight, phase)
    return torch.cat([table[0:1] * table[1:3], table[3:4]])


def exact_unit_vectors(lonlat: torch.Tensor, weight: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """:func:`unit_vector_rows` computed in float64 (``weight`` and ``phase`` float64 tables) and rounded once to
    ``lonlat``'s dtype. For encodings that multiply the unit vector by large frequencies (rff, rbf): a last-bit
    difference between two runtimes' float32 sines would be amplified past 1e-5 in their features, whereas
    correctly rounded unit vectors are the same in torch and in an exported ONNX graph."""
    return unit_vector_rows(lonlat.double(), weight, phase).to(lonlat.dtype)


class XYZEncoding(nn.Module):
    """Point on the unit sphere → 3 features, computed in ``dtype``."""

    out_dim = 3

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        register_unit_vector_tables(self, dtype)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode (lon, lat) degrees ``[N, 2]``."""
        return unit_vector_rows(lonlat, self.unit_weight, self.unit_phase).T

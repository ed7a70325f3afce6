"""Spherical harmonics are orthonormal: Gram matrix on an exact quadrature grid ≈ identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.location.encodings.harmonics import SphericalHarmonicsEncoding


def quadrature(degree: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss–Legendre in sin(lat) × uniform longitudes: exact for products of Y_l^m with l < degree."""
    nodes, weights = np.polynomial.legendre.leggauss(degree + 1)
    n_lon = 2 * degree + 2
    lon = np.arange(n_lon) * 360.0 / n_lon - 180.0
    grid_lon, grid_lat = np.meshgrid(lon, np.degrees(np.arcsin(nodes)))
    points = torch.tensor(np.stack([grid_lon.ravel(), grid_lat.ravel()], axis=1), dtype=torch.float32)
    return points, torch.tensor(np.repeat(weights, n_lon) * 2 * np.pi / n_lon)


def gram(degree: int) -> torch.Tensor:
    points, weights = quadrature(degree)
    with torch.inference_mode():
        values = SphericalHarmonicsEncoding(degree)(points).double()
    return (values.T * weights) @ values


def test_orthonormal_up_to_degree_10():
    torch.testing.assert_close(gram(10), torch.eye(100, dtype=torch.float64), atol=1e-5, rtol=0)


def test_degree_40_stays_finite_and_normalised():
    matrix = gram(40)
    assert torch.isfinite(matrix).all()
    torch.testing.assert_close(torch.diagonal(matrix), torch.ones(1600, dtype=torch.float64), atol=1e-4, rtol=0)
    assert (matrix - torch.diag(torch.diagonal(matrix))).abs().max() < 1e-4


def test_degree_out_of_range_is_refused():
    with pytest.raises(ValueError, match="degree"):
        SphericalHarmonicsEncoding(0)

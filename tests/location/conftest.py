"""Shared fixtures for the location-encoder tests."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
import torch

from core.location import LocationEncoder, build_location_encoder


@functools.cache
def _default_encoder(name: str) -> LocationEncoder:
    torch.manual_seed(0)
    return build_location_encoder({"encoding": name}).eval()


@pytest.fixture(scope="session")
def default_encoder() -> Callable[[str], LocationEncoder]:
    """``default_encoder(name)``: the encoder for ``name`` with every default, in eval mode, built once."""
    return _default_encoder


@pytest.fixture(scope="session")
def edge_points() -> torch.Tensor:
    """Poles, both sides of the antimeridian (180 wraps to -180) and a few ordinary places, (lon, lat)."""
    return torch.tensor(
        [[-180.0, 90.0], [-180.0, -90.0], [179.9999, 90.0], [180.0, -90.0], [0.0, 90.0], [0.0, -90.0],
         [-180.0, 0.0], [179.9999, 0.0], [180.0, 45.0], [2.35, 48.86], [151.21, -33.87], [-0.0, 0.0]]
    )

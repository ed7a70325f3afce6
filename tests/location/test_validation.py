"""The public entry validates (lon, lat) in torch: clear CoordinateErrors, longitudes wrapped."""

from __future__ import annotations

import math

import pytest
import torch

from core.coords import CoordinateError
from core.location import build_location_encoder


@pytest.fixture(scope="module")
def encoder():
    return build_location_encoder({"encoding": "xyz", "network": "identity"})


@pytest.mark.parametrize(
    "points, message",
    [
        (torch.tensor([[0.0, 0.0], [math.nan, 1.0]]), "coordinate 1 is not finite"),
        (torch.tensor([[0.0, math.inf]]), "not finite"),
        (torch.tensor([[10.0, 90.5]]), "latitude 90.5 of coordinate 0 is outside"),
        (torch.tensor([[48.0, 120.0]]), "looks swapped"),
        (torch.zeros(3), r"shape \[N, 2\]"),
        (torch.zeros(2, 5), "transposed"),
        (torch.zeros(4, 3), r"shape \[N, 2\]"),
    ],
)
def test_bad_coordinates_raise_clear_errors(encoder, points, message):
    with pytest.raises(CoordinateError, match=message):
        encoder(points)


def test_non_tensor_input_points_to_encode(encoder):
    with pytest.raises(CoordinateError, match="encode"):
        encoder([[0.0, 0.0]])


def test_longitudes_are_wrapped_not_latitudes_clipped(encoder):
    out = encoder(torch.tensor([[270.0, 0.0], [-90.0, 0.0]]))
    torch.testing.assert_close(out[0], out[1])


def test_encode_states_the_order(encoder):
    by_lonlat = encoder.encode(lonlat=[[2.35, 48.86]])
    torch.testing.assert_close(encoder.encode(latlon=[[48.86, 2.35]]), by_lonlat)
    with pytest.raises(CoordinateError, match="latlon"):
        encoder.encode(lonlat=[[48.86, 2.35], [10.0, 95.0]])

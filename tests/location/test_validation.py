"""The public entry validates (lon, lat) in torch: clear CoordinateErrors, longitudes wrapped."""

from __future__ import annotations

import math

import pytest
import torch

from core.coords import CoordinateError
from core.location import build_location_encoder
from core.location.validation import check_lonlat_tensor


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


# --- the fused check: one pass over valid input, the old messages for bad input ------------------------


@pytest.mark.parametrize(
    "rows, message",
    [
        ([[0.0, 0.0], [10.0, 20.0], [math.nan, 1.0]], "coordinate 2 is not finite: lon=nan, lat=1.0 (read as (lon, lat))"),
        ([[0.0, 0.0], [10.0, math.nan]], "coordinate 1 is not finite: lon=10.0, lat=nan (read as (lon, lat))"),
        ([[0.0, 0.0], [-math.inf, 5.0]], "coordinate 1 is not finite: lon=-inf, lat=5.0 (read as (lon, lat))"),
        ([[0.0, 0.0], [200.0, 45.0], [10.0, -91.0]], "latitude -91 of coordinate 2 is outside [-90, 90] (read as (lon, lat))"),
    ],
)
def test_fused_check_names_the_first_bad_row_exactly(rows, message):
    with pytest.raises(CoordinateError) as error:
        check_lonlat_tensor(torch.tensor(rows))
    assert str(error.value) == message


def test_fused_check_returns_valid_float32_input_without_copying():
    points = torch.tensor([[-180.0, -90.0], [179.5, 90.0], [2.35, 48.86]])
    assert check_lonlat_tensor(points) is points


def test_fused_check_wraps_only_longitudes_and_converts_dtype():
    points = torch.tensor([[180.0, 90.0], [-190.0, -90.0], [540.0, 10.0], [2.5, 3.5]], dtype=torch.float64)
    checked = check_lonlat_tensor(points)
    assert checked.dtype == torch.float32
    torch.testing.assert_close(checked, torch.tensor([[-180.0, 90.0], [170.0, -90.0], [-180.0, 10.0], [2.5, 3.5]]))
    assert check_lonlat_tensor(points, torch.float64).dtype == torch.float64
    assert check_lonlat_tensor(torch.tensor([[10, 20]])).dtype == torch.float32


def test_fused_check_accepts_an_empty_batch():
    assert check_lonlat_tensor(torch.zeros(0, 2)).shape == (0, 2)


def test_float64_longitude_just_below_180_wraps_after_rounding_to_float32():
    checked = check_lonlat_tensor(torch.tensor([[180.0 - 1e-9, 0.0]], dtype=torch.float64))
    assert checked[0, 0].item() == -180.0

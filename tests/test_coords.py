"""Properties of core.coords over the whole sphere, poles and antimeridian included."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.coords import (
    EARTH_RADIUS_KM,
    CoordinateError,
    LonLat,
    haversine_km,
    lonlat_of_vectors,
    lonlat_tensor,
    sample_land,
    sample_sphere,
    unit_vectors,
    validate_lonlat,
    wrap_longitude,
)

FAST = settings(max_examples=60, deadline=None)
HALF_CIRCUMFERENCE_KM = math.pi * EARTH_RADIUS_KM

any_lon = st.floats(-1e4, 1e4, allow_nan=False)
lons = st.one_of(st.floats(-180.0, 180.0), st.sampled_from([-180.0, 180.0, 179.999999, -179.999999, 0.0]))
lats = st.one_of(st.floats(-90.0, 90.0), st.sampled_from([-90.0, 90.0, 89.999999, -89.999999, 0.0]))
points = st.tuples(lons, lats)
point_lists = st.lists(points, min_size=1, max_size=20).map(lambda rows: np.array(rows, dtype=np.float64))


def circular_gap(a, b):
    """Smallest absolute difference between two longitudes, in degrees."""
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


# --- wrap_longitude -----------------------------------------------------------------------------


@FAST
@given(any_lon)
def test_wrap_longitude_lands_in_range_and_is_idempotent(lon):
    wrapped = wrap_longitude(lon)
    assert isinstance(wrapped, float)
    assert -180.0 <= wrapped < 180.0
    assert wrap_longitude(wrapped) == wrapped
    assert circular_gap(wrapped, lon) < 1e-9 * max(1.0, abs(lon))


@FAST
@given(any_lon, st.integers(-5, 5))
def test_wrap_longitude_is_360_periodic(lon, turns):
    assert circular_gap(wrap_longitude(lon + 360.0 * turns), wrap_longitude(lon)) < 1e-9 * max(1.0, abs(lon) + 1800.0)


@FAST
@given(st.lists(any_lon, min_size=1, max_size=30))
def test_wrap_longitude_numpy_and_torch_agree(values):
    array = np.array(values)
    wrapped = wrap_longitude(array)
    assert ((wrapped >= -180.0) & (wrapped < 180.0)).all()
    np.testing.assert_array_equal(wrap_longitude(wrapped), wrapped)
    np.testing.assert_array_equal(wrap_longitude(torch.from_numpy(array)).numpy(), wrapped)


def test_wrap_longitude_edge_values():
    assert wrap_longitude(180.0) == -180.0
    assert wrap_longitude(-180.0) == -180.0
    assert wrap_longitude(-180.0 - 1e-14) < 180.0  # float rounding of the modulo must not give +180
    assert wrap_longitude(540.0) == -180.0
    assert wrap_longitude(190.0) == -170.0
    assert math.isnan(wrap_longitude(float("nan")))


# --- validate_lonlat ----------------------------------------------------------------------------


@FAST
@given(point_lists)
def test_validate_lonlat_wraps_longitude_and_keeps_latitude(pairs):
    out = validate_lonlat(lonlat=pairs)
    assert out.shape == pairs.shape and out.dtype == np.float64
    np.testing.assert_array_equal(out[:, 1], pairs[:, 1])
    assert ((out[:, 0] >= -180.0) & (out[:, 0] < 180.0)).all()
    assert (circular_gap(out[:, 0], pairs[:, 0]) < 1e-9).all()
    np.testing.assert_array_equal(validate_lonlat(pairs), out)  # positional means (lon, lat)
    np.testing.assert_array_equal(validate_lonlat(lonlat=torch.from_numpy(pairs)), out)


@FAST
@given(point_lists)
def test_latlon_keyword_reverses_the_order(pairs):
    np.testing.assert_array_equal(validate_lonlat(latlon=pairs[:, ::-1].copy()), validate_lonlat(lonlat=pairs))
    tensor = lonlat_tensor(latlon=pairs[:, ::-1].copy())
    assert tensor.dtype == torch.float32 and tensor.shape == (len(pairs), 2)


@FAST
@given(point_lists, st.data(), st.sampled_from([math.nan, math.inf, -math.inf]), st.integers(0, 1))
def test_non_finite_values_are_rejected_with_their_index(pairs, data, bad_value, column):
    index = data.draw(st.integers(0, len(pairs) - 1))
    pairs[index, column] = bad_value
    with pytest.raises(CoordinateError, match=rf"coordinate {index} is not finite"):
        validate_lonlat(lonlat=pairs)


@FAST
@given(point_lists, st.data(), st.floats(90.0, 1e6, exclude_min=True), st.booleans())
def test_latitude_out_of_range_is_rejected_not_clipped(pairs, data, magnitude, south):
    index = data.draw(st.integers(0, len(pairs) - 1))
    pairs[index, 1] = -magnitude if south else magnitude
    with pytest.raises(CoordinateError, match=rf"latitude .* of coordinate {index} is outside \[-90, 90\]"):
        validate_lonlat(lonlat=pairs)


@FAST
@given(st.floats(90.0, 180.0, exclude_min=True), st.booleans(), lats)
def test_swapped_pair_gets_a_hint_when_detectable(lon_magnitude, west, lat):
    lon = -lon_magnitude if west else lon_magnitude
    # (lat, lon) passed as lonlat: the longitude lands in the latitude slot and is out of range.
    with pytest.raises(CoordinateError, match=r"looks swapped.*latlon="):
        validate_lonlat(lonlat=[lat, lon])
    with pytest.raises(CoordinateError, match=r"looks swapped.*lonlat="):
        validate_lonlat(latlon=[lon, lat])


def test_no_swap_hint_when_swapping_would_not_help():
    with pytest.raises(CoordinateError) as error:
        validate_lonlat(lonlat=[150.0, 120.0])
    assert "swapped" not in str(error.value)


def test_swapped_pair_inside_both_ranges_cannot_be_detected():
    paris_latlon = [48.8566, 2.3522]
    np.testing.assert_array_equal(validate_lonlat(lonlat=paris_latlon), [paris_latlon])


@pytest.mark.parametrize("shape", [(3,), (2, 3), (5, 3), (4, 1), (2, 2, 2), ()])
def test_wrong_shapes_are_rejected(shape):
    with pytest.raises(CoordinateError, match=r"shape \[N, 2\]"):
        validate_lonlat(lonlat=np.zeros(shape))


def test_transposed_input_gets_a_hint():
    with pytest.raises(CoordinateError, match="transposed"):
        validate_lonlat(lonlat=np.zeros((2, 5)))


def test_exactly_one_order_must_be_given():
    with pytest.raises(CoordinateError, match="exactly one"):
        validate_lonlat()
    with pytest.raises(CoordinateError, match="exactly one"):
        validate_lonlat(lonlat=[0.0, 0.0], latlon=[0.0, 0.0])


def test_non_numeric_input_is_a_coordinate_error():
    with pytest.raises(CoordinateError, match="numbers"):
        validate_lonlat(lonlat=[["a", 1.0]])


# --- LonLat -------------------------------------------------------------------------------------


@FAST
@given(points)
def test_lonlat_round_trip(point):
    lon, lat = point
    p = LonLat(lon, lat)
    assert -180.0 <= p.lon < 180.0 and p.lat == lat
    assert LonLat.from_latlon(lat, lon) == p
    assert LonLat(p.lon, p.lat) == p
    tensor = p.as_tensor()
    assert tensor.dtype == torch.float32 and tensor.shape == (1, 2)
    torch.testing.assert_close(tensor, lonlat_tensor(lonlat=[lon, lat]))
    np.testing.assert_array_equal(validate_lonlat(p), [[p.lon, p.lat]])
    np.testing.assert_array_equal(validate_lonlat(lonlat=p), [[p.lon, p.lat]])


def test_lonlat_is_frozen_and_validated():
    p = LonLat(190.0, 10.0)
    assert p == LonLat(-170.0, 10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.lat = 0.0  # type: ignore[misc]
    with pytest.raises(CoordinateError, match=r"looks swapped.*from_latlon"):
        LonLat(35.7, 139.7)  # Tokyo given as (lat, lon)
    with pytest.raises(CoordinateError, match=r"looks swapped.*LonLat\(lon, lat\)"):
        LonLat.from_latlon(139.7, 35.7)
    with pytest.raises(CoordinateError, match="not finite"):
        LonLat(float("nan"), 0.0)
    with pytest.raises(CoordinateError, match="already states its order"):
        validate_lonlat(latlon=p)


# --- haversine_km -------------------------------------------------------------------------------


@FAST
@given(points, points)
def test_haversine_zero_symmetric_and_bounded(a, b):
    a, b = np.array(a), np.array(b)
    assert haversine_km(a, a) == pytest.approx(0.0, abs=1e-6)
    d = haversine_km(a, b)
    assert d == haversine_km(b, a)
    assert 0.0 <= d <= HALF_CIRCUMFERENCE_KM + 1e-9


@FAST
@given(points, points, points)
def test_haversine_triangle_inequality(a, b, c):
    ab, bc, ac = haversine_km(a, b), haversine_km(b, c), haversine_km(a, c)
    assert ac <= ab + bc + 1e-3


@FAST
@given(points)
def test_haversine_antipodes_are_half_a_circumference_apart(point):
    lon, lat = point
    assert haversine_km([lon, lat], [lon + 180.0, -lat]) == pytest.approx(HALF_CIRCUMFERENCE_KM, abs=1e-3)
    assert haversine_km([lon, lat], [lon + 360.0, lat]) == pytest.approx(0.0, abs=1e-3)


def test_haversine_known_distances():
    paris, london = [2.3522, 48.8566], [-0.1276, 51.5072]
    assert haversine_km(paris, london) == pytest.approx(344.0, abs=1.0)
    assert haversine_km([0.0, 0.0], [0.0, 90.0]) == pytest.approx(10_007.5, abs=0.5)
    assert haversine_km([179.5, 0.0], [-179.5, 0.0]) == pytest.approx(111.195, abs=0.01)  # across ±180
    assert haversine_km([0.0, 90.0], [123.0, 90.0]) == pytest.approx(0.0, abs=1e-6)  # the pole is one point


def test_haversine_torch_numpy_and_broadcasting():
    rng = np.random.default_rng(0)
    a, b = sample_sphere(5, rng), sample_sphere(3, rng)
    pairwise = haversine_km(a[:, None, :], b[None, :, :])
    assert isinstance(pairwise, np.ndarray) and pairwise.shape == (5, 3)
    np.testing.assert_allclose(pairwise[2, 1], haversine_km(a[2], b[1]))
    as_torch = haversine_km(torch.from_numpy(a)[:, None, :], b[None, :, :])
    assert isinstance(as_torch, torch.Tensor) and as_torch.dtype == torch.float64
    np.testing.assert_allclose(as_torch.numpy(), pairwise)
    single = haversine_km(torch.tensor(a, dtype=torch.float32), torch.tensor(a[::-1].copy(), dtype=torch.float32))
    assert single.dtype == torch.float32 and single.shape == (5,)
    np.testing.assert_allclose(single.numpy(), haversine_km(a, a[::-1]), atol=0.5)
    with pytest.raises(CoordinateError, match=r"\[\.\.\., 2\]"):
        haversine_km(np.zeros((4, 3)), np.zeros((4, 2)))


# --- sample_sphere / sample_land ----------------------------------------------------------------


def tolerance(p: float, n: int, sigmas: float = 5.0) -> float:
    """``sigmas`` standard errors of a fraction with probability ``p`` estimated from ``n`` draws."""
    return sigmas * math.sqrt(p * (1.0 - p) / n)


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(0, 500))
def test_sample_sphere_shape_range_and_determinism(seed, n):
    points = sample_sphere(n, np.random.default_rng(seed))
    assert points.shape == (n, 2) and points.dtype == np.float64
    assert ((points[:, 0] >= -180.0) & (points[:, 0] < 180.0)).all()
    assert (np.abs(points[:, 1]) <= 90.0).all()
    np.testing.assert_array_equal(points, sample_sphere(n, np.random.default_rng(seed)))


def test_sample_sphere_is_uniform_on_area_not_in_degrees():
    n = 200_000
    points = sample_sphere(n, np.random.default_rng(1))
    z = np.sin(np.radians(points[:, 1]))
    # Area between latitudes ±30° is half the sphere (uniform in degrees would give 1/3).
    assert abs(np.mean(np.abs(points[:, 1]) < 30.0) - 0.5) < tolerance(0.5, n)
    polar = (1.0 - math.sin(math.radians(60.0))) / 2.0  # cap north of 60°
    assert abs(np.mean(points[:, 1] > 60.0) - polar) < tolerance(polar, n)
    assert abs(z.mean()) < 5.0 * math.sqrt(1.0 / 3.0 / n)  # z uniform on [-1, 1]: mean 0, variance 1/3
    assert abs(np.mean(z**2) - 1.0 / 3.0) < 5.0 * math.sqrt(4.0 / 45.0 / n)
    assert abs(np.mean(points[:, 0] < 0.0) - 0.5) < tolerance(0.5, n)
    assert sample_sphere(10, np.random.default_rng(1)).tolist() != sample_sphere(10, np.random.default_rng(2)).tolist()


def test_sample_sphere_argument_errors():
    with pytest.raises(TypeError, match="default_rng"):
        sample_sphere(3, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        sample_sphere(-1, np.random.default_rng(0))


def north_east(lonlat: np.ndarray) -> np.ndarray:
    return (lonlat[:, 0] > 0.0) & (lonlat[:, 1] > 0.0)


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(0, 3000))
def test_sample_land_returns_only_accepted_points_deterministically(seed, n):
    points = sample_land(n, np.random.default_rng(seed), north_east, batch_size=4096)
    assert points.shape == (n, 2)
    assert north_east(points).all()
    np.testing.assert_array_equal(points, sample_land(n, np.random.default_rng(seed), north_east, batch_size=4096))


def test_sample_land_is_uniform_within_the_mask():
    n = 50_000
    points = sample_land(n, np.random.default_rng(3), north_east)
    # Within the northern hemisphere, half the area lies below 30°N.
    assert abs(np.mean(points[:, 1] < 30.0) - 0.5) < tolerance(0.5, n)


def test_sample_land_rejects_a_mask_that_accepts_almost_nothing():
    with pytest.raises(ValueError, match="accepted 0 of"):
        sample_land(10, np.random.default_rng(0), lambda lonlat: np.zeros(len(lonlat), dtype=bool))

    def polar_cap(lonlat: np.ndarray) -> np.ndarray:  # ~7.6e-5 of the sphere
        return lonlat[:, 1] > 89.0

    with pytest.raises(ValueError, match="min_acceptance"):
        sample_land(10, np.random.default_rng(0), polar_cap)
    points = sample_land(10, np.random.default_rng(0), polar_cap, min_acceptance=1e-5)
    assert (points[:, 1] > 89.0).all()


def test_sample_land_checks_the_mask_shape():
    with pytest.raises(ValueError, match="mask of shape"):
        sample_land(10, np.random.default_rng(0), lambda lonlat: np.ones((len(lonlat), 2), dtype=bool))


@FAST
@given(point_lists, st.floats(0.01, 100.0))
def test_unit_vectors_round_trip_at_any_length(pairs, length):
    vectors = unit_vectors(pairs)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), 1.0)
    back = lonlat_of_vectors(length * vectors)
    assert haversine_km(back, pairs).max() < 1e-6, "the same points (longitude free at the poles)"
    chord = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    np.testing.assert_allclose(chord, 2 * np.sin(haversine_km(pairs[:, None], pairs[None]) / EARTH_RADIUS_KM / 2), atol=1e-9)

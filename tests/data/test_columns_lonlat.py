"""Finding the longitude and latitude columns of a table of places (one rule for CSV tasks and GIS points)."""

import pytest

from core.data.columns import lonlat_columns


@pytest.mark.parametrize(
    ("header", "expected"),
    [(["Latitude", "Longitude", "v"], (1, 0)), (["id", "LNG", "lat"], (1, 2)), (["x", "y", "v"], (0, 1)), (["lon", "lat", "x", "y"], (0, 1))],
)
def test_named_columns_first_then_x_y(header, expected):
    assert lonlat_columns(header) == expected


def test_missing_or_doubled_columns_are_named():
    with pytest.raises(ValueError, match=r"lacks column\(s\) lat \(or latitude\)"):
        lonlat_columns(["lon", "value"])
    with pytest.raises(ValueError, match="'lon' and 'longitude' both give the lon"):
        lonlat_columns(["lon", "longitude", "lat"])

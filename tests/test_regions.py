"""Geographic boxes: validation, the antimeridian, web-map views and their description."""

import numpy as np
import pytest

from core.regions import REGIONS, BBox, bbox_from_view


def test_a_box_contains_points_on_both_sides_of_the_antimeridian_and_describes_itself():
    box = BBox(west=170.0, south=-30.0, east=-170.0, north=30.0)
    points = np.array([[175.0, 0.0], [-175.0, 10.0], [0.0, 0.0], [175.0, 40.0]])
    assert box.contains(points).tolist() == [True, True, False, False]
    assert box.describe() == "170.0°E → 170.0°W, 30.0°S – 30.0°N"
    assert REGIONS["World"] is None and all(r.width > 0 for r in REGIONS.values() if r is not None)
    with pytest.raises(ValueError, match="differ"):
        BBox(10.0, 0.0, 10.0, 5.0)


@pytest.mark.parametrize(
    ("view", "box"),
    [
        ((-10.0, 35.0, 30.0, 60.0), BBox(-10.0, 35.0, 30.0, 60.0)),  # an ordinary view is kept as is
        ((160.0, -20.0, 200.0, 20.0), BBox(160.0, -20.0, -160.0, 20.0)),  # panned east across 180°
        ((-200.0, -20.0, -160.0, 20.0), BBox(160.0, -20.0, -160.0, 20.0)),  # panned west across -180°
        ((100.0, 0.0, 180.0, 10.0), BBox(100.0, 0.0, 180.0, 10.0)),  # ends exactly at the antimeridian
        ((-300.0, -95.0, 250.0, 95.0), BBox(-180.0, -90.0, 180.0, 90.0)),  # zoomed out: the whole world
    ],
)
def test_a_map_view_becomes_a_wrapped_box(view, box):
    assert bbox_from_view(*view) == box


@pytest.mark.parametrize("view", [(10.0, 0.0, 10.0, 5.0), (0.0, 5.0, 10.0, 5.0), (float("nan"), 0.0, 10.0, 5.0)])
def test_an_empty_or_broken_map_view_is_refused(view):
    with pytest.raises(ValueError, match="not a map view"):
        bbox_from_view(*view)

"""Polygon regions: antimeridian folding, holes, multipart polygons, polyfill and their use as map regions."""

import numpy as np
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from core.workflows import embedding_map as em
from core.gis.region import PolygonRegion, polyfill
from core.hexgrid import cell_centers, world_cells
from core.regions import BBox

RESOLUTION = 2
ACROSS_180 = Polygon([(170.0, -10.0), (190.0, -10.0), (190.0, 10.0), (170.0, 10.0)])  # 170°E → 170°W
WITH_HOLE = Polygon([(0.0, 0.0), (40.0, 0.0), (40.0, 40.0), (0.0, 40.0)], [[(10.0, 10.0), (30.0, 10.0), (30.0, 30.0), (10.0, 30.0)]])


def centres_inside(geometry_test) -> set[str]:
    """Brute force: the world's cells whose centre passes ``geometry_test`` (lon, lat arrays → bool)."""
    cells = np.array(world_cells(RESOLUTION))
    centres = cell_centers(cells)
    return set(cells[geometry_test(centres[:, 0], centres[:, 1])])


def test_a_polygon_across_the_antimeridian_polyfills_both_sides():
    region = PolygonRegion.from_geometry("pacific", ACROSS_180)
    cells = region.cells(RESOLUTION)
    expected = centres_inside(lambda lon, lat: ((lon >= 170.0) | (lon <= -170.0)) & (np.abs(lat) <= 10.0))
    assert set(cells) == expected and len(cells) > 20
    centres = cell_centers(cells)
    assert (centres[:, 0] > 0).any() and (centres[:, 0] < 0).any()
    assert region.bbox == BBox(170.0, -10.0, -170.0, 10.0) and region.bbox.crosses_antimeridian


def test_an_rfc7946_split_polygon_is_the_same_region():
    split = MultiPolygon([box(170.0, -10.0, 180.0, 10.0), box(-180.0, -10.0, -170.0, 10.0)])
    assert PolygonRegion.from_geometry("a", split).cells(RESOLUTION) == PolygonRegion.from_geometry("b", ACROSS_180).cells(RESOLUTION)


def test_a_polygon_with_a_hole_leaves_the_hole_out():
    region = PolygonRegion.from_geometry("ring", WITH_HOLE)
    cells = region.cells(RESOLUTION)
    outer = centres_inside(lambda lon, lat: (lon >= 0) & (lon <= 40) & (lat >= 0) & (lat <= 40))
    hole = centres_inside(lambda lon, lat: (lon > 10) & (lon < 30) & (lat > 10) & (lat < 30))
    assert hole and set(cells) == outer - hole
    assert not region.contains(np.array([[20.0, 20.0]]))[0] and region.contains(np.array([[5.0, 5.0]]))[0]


def test_a_region_wider_than_half_the_world_polyfills_every_centre():
    band = box(-180.0, -30.0, 180.0, 30.0)
    assert set(polyfill(band, 1)) == {c for c, (_, lat) in zip(world_cells(1), cell_centers(world_cells(1))) if abs(lat) <= 30}


def test_multipart_polygons_and_the_embedding_map_cells():
    parts = MultiPolygon([box(0.0, 0.0, 10.0, 10.0), box(100.0, 0.0, 110.0, 10.0)])
    region = PolygonRegion.from_geometry("two", parts)
    assert "2 polygons" in region.describe()
    cells = em.region_cells(RESOLUTION, region)
    assert cells == region.cells(RESOLUTION) == sorted(cells)
    assert set(cells) <= set(world_cells(RESOLUTION))


def test_a_region_is_hashable_for_the_caches():
    assert hash(PolygonRegion.from_geometry("a", WITH_HOLE)) == hash(PolygonRegion.from_geometry("a", WITH_HOLE))


def test_a_geometry_without_area_is_refused():
    from shapely.geometry import LineString

    with pytest.raises(ValueError, match="has no polygon with an area"):
        PolygonRegion.from_geometry("line", LineString([(0, 0), (1, 1)]))

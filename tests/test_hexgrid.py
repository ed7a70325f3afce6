"""Properties of core.hexgrid: cells, centres and web-map geometry over the whole sphere."""

from __future__ import annotations

import json
import math

import h3
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape

from core.coords import LonLat, sample_sphere
from core.hexgrid import (
    MAX_WORLD_RESOLUTION,
    aggregate_counts,
    aggregate_mean,
    cell_area_km2,
    cell_centers,
    cell_geometry,
    cell_polygon,
    cells_of,
    cells_to_geojson,
    world_cells,
)

FAST = settings(max_examples=80, deadline=None)

lons = st.one_of(st.floats(-180.0, 180.0), st.sampled_from([-180.0, 180.0, 179.999999, -179.999999]))
lats = st.one_of(st.floats(-90.0, 90.0), st.sampled_from([-90.0, 90.0, 89.999999, -89.999999, 0.0]))
points = st.tuples(lons, lats)
resolutions = st.integers(0, 6)


def toward(start: np.ndarray, end: np.ndarray, fraction: float) -> np.ndarray:
    """The point ``fraction`` of the way along the great circle from ``start`` to ``end`` (lon, lat)."""

    def xyz(lonlat: np.ndarray) -> np.ndarray:
        lon, lat = np.radians(lonlat[..., 0]), np.radians(lonlat[..., 1])
        return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)

    v = (1.0 - fraction) * xyz(start) + fraction * xyz(end)
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    return np.stack([np.degrees(np.arctan2(v[..., 1], v[..., 0])), np.degrees(np.arcsin(v[..., 2]))], axis=-1)


def geometry_parts(geometry: dict) -> list[shapely.Polygon]:
    return list(shapely.get_parts(shape(geometry)))


def pole_cells(resolution: int) -> set[str]:
    return {h3.latlng_to_cell(lat, 0.0, resolution) for lat in (90.0, -90.0)}


# --- cells and centres --------------------------------------------------------------------------


@FAST
@given(points, resolutions)
def test_points_lie_in_the_drawn_geometry_of_their_cell(point, resolution):
    cell = str(cells_of([point], resolution)[0])
    assert cell == h3.latlng_to_cell(point[1], point[0], resolution)  # h3 takes (lat, lng)
    geometry = cell_polygon(cell)
    assert geometry.is_valid
    center = cell_centers(cell)[0]
    assert geometry.covers(Point(center))
    # Edges are drawn straight in (lon, lat) within 1 % of their length of the great circle, so a
    # point 2 % of the way back towards the centre is inside the drawing, even at the poles.
    inner = toward(center, np.array(point), 0.98)
    assert cells_of([inner], resolution)[0] == cell
    assert geometry.covers(Point(inner)), (cell, point, inner)


@pytest.mark.parametrize("resolution", [0, 1, 2])
def test_many_points_lie_in_the_drawn_geometry_of_their_cell(resolution):
    lonlat = sample_sphere(5000, np.random.default_rng(resolution))
    cells = cells_of(lonlat, resolution)
    inner = toward(cell_centers(cells), lonlat, 0.98)
    assert (cells_of(inner, resolution) == cells).all()
    geometries = np.array([cell_polygon(cell) for cell in cells])
    outside = ~shapely.covers(geometries, shapely.points(inner))
    assert not outside.any(), inner[outside][:5]


@FAST
@given(points, resolutions)
def test_cells_of_accepts_lonlat_and_wraps_longitude(point, resolution):
    lon, lat = point
    assert cells_of(LonLat(lon, lat), resolution)[0] == cells_of([point], resolution)[0]
    assert cells_of([[180.0, lat], [540.0, lat]], resolution).tolist() == cells_of([[-180.0, lat]] * 2, resolution).tolist()


@pytest.mark.parametrize("resolution", [0, 1, 2])
def test_centres_round_trip_through_cells_of(resolution):
    cells = world_cells(resolution)
    centers = cell_centers(cells)
    assert centers.shape == (len(cells), 2)
    assert ((centers[:, 0] >= -180.0) & (centers[:, 0] < 180.0)).all() and (np.abs(centers[:, 1]) <= 90.0).all()
    assert cells_of(centers, resolution).tolist() == cells


def test_cells_of_validates_coordinates_and_resolution():
    with pytest.raises(ValueError, match="looks swapped"):
        cells_of([35.7, 139.7], 3)  # Tokyo as (lat, lon)
    with pytest.raises(ValueError, match="0..15"):
        cells_of([0.0, 0.0], 16)
    assert cells_of(np.zeros((0, 2)), 3).shape == (0,)


def test_world_cell_counts():
    assert len(world_cells(0)) == 122
    assert len(world_cells(1)) == 842
    cells = world_cells(1)
    assert cells == sorted(set(cells)) and all(h3.is_valid_cell(c) for c in cells)
    with pytest.raises(ValueError, match="at most resolution"):
        world_cells(MAX_WORLD_RESOLUTION + 1)


def test_cell_areas_cover_the_earth():
    areas = cell_area_km2(world_cells(1))
    assert areas.shape == (842,) and (areas > 0).all()
    assert areas.sum() == pytest.approx(4.0 * math.pi * 6371.007180918475**2, rel=1e-6)  # h3's authalic radius
    assert cell_area_km2(world_cells(1)[0]).shape == (1,)  # one id is one cell, not its characters


# --- geometry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [0, 1, 2])
def test_drawn_cells_tile_the_map_without_gaps_or_overlaps(resolution):
    polygons = [cell_polygon(cell) for cell in world_cells(resolution)]
    assert all(p.is_valid for p in polygons)
    assert sum(p.area for p in polygons) == pytest.approx(360.0 * 180.0)
    assert shapely.union_all(polygons).area == pytest.approx(360.0 * 180.0)


@pytest.mark.parametrize("resolution", [0, 1, 2])
def test_every_part_spans_less_than_180_degrees_except_pole_cells(resolution):
    poles = pole_cells(resolution)
    crossing = 0
    for cell in world_cells(resolution):
        parts = geometry_parts(cell_geometry(cell))
        for part in parts:
            west, south, east, north = part.bounds
            assert -180.0 <= west and east <= 180.0 and -90.0 <= south and north <= 90.0
            assert cell in poles or east - west < 180.0, (cell, part.bounds)
        if len(parts) == 2:  # split at the antimeridian: one part on each side
            crossing += 1
            assert sorted(p.bounds[0] for p in parts)[0] == -180.0
            assert sorted(p.bounds[2] for p in parts)[1] == 180.0
        else:
            assert len(parts) == 1
    assert crossing > 0


@pytest.mark.parametrize("resolution", range(0, 7))
def test_pole_cells_are_closed_along_the_pole(resolution):
    for pole_lat in (90.0, -90.0):
        cell = h3.latlng_to_cell(pole_lat, 0.0, resolution)
        geometry = cell_polygon(cell)
        assert geometry.geom_type == "Polygon" and geometry.is_valid
        assert geometry.bounds[0] == -180.0 and geometry.bounds[2] == 180.0
        for lon in (-180.0, -90.0, 0.0, 45.0, 179.9):
            assert geometry.covers(Point(lon, pole_lat))


def test_antimeridian_cell_is_split_into_two_parts():
    cell = cells_of([180.0, 0.0], 0)[0]
    geometry = cell_geometry(cell)
    assert geometry["type"] == "MultiPolygon"
    west, east = sorted(geometry_parts(geometry), key=lambda p: p.bounds[0])
    assert west.bounds[0] == -180.0 and east.bounds[2] == 180.0
    assert east.covers(Point(179.9, 0.0)) and west.covers(Point(-179.9, 0.0))


def test_cell_geometry_is_cached():
    cell = world_cells(0)[0]
    assert cell_polygon(cell) is cell_polygon(cell)


# --- GeoJSON and aggregation --------------------------------------------------------------------


def test_cells_to_geojson_is_valid_geojson_with_properties():
    rng = np.random.default_rng(0)
    cells, counts = aggregate_counts(sample_sphere(400, rng), 1)
    collection = json.loads(json.dumps(cells_to_geojson(cells, [{"count": c, "label": "x"} for c in counts])))
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == len(cells)
    for feature, cell, count in zip(collection["features"], cells, counts):
        assert feature["type"] == "Feature"
        assert feature["properties"] == {"cell": cell, "count": int(count), "label": "x"}
        geometry = feature["geometry"]
        assert geometry["type"] in {"Polygon", "MultiPolygon"}
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for rings in polygons:
            for ring in rings:
                assert len(ring) >= 4 and ring[0] == ring[-1]
            assert shapely.LinearRing(rings[0]).is_ccw  # RFC 7946 exterior winding
        assert shape(geometry).is_valid
    with pytest.raises(ValueError, match="property dicts"):
        cells_to_geojson(cells, [{}])
    assert cells_to_geojson(cells[0])["features"][0]["properties"] == {"cell": cells[0]}


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.integers(0, 4))
def test_aggregation_counts_and_means(seed, n, resolution):
    rng = np.random.default_rng(seed)
    lonlat = sample_sphere(n, rng)
    values = rng.normal(size=n)
    labels = np.eye(3)[rng.integers(0, 3, n)]
    cells, counts = aggregate_counts(lonlat, resolution)
    assert counts.sum() == n and cells.tolist() == sorted(set(cells_of(lonlat, resolution)))
    point_cells = cells_of(lonlat, resolution)
    same_cells, same_counts, means = aggregate_mean(lonlat, values, resolution)
    np.testing.assert_array_equal(same_cells, cells)
    np.testing.assert_array_equal(same_counts, counts)
    for cell, count, mean in zip(cells, counts, means):
        assert (point_cells == cell).sum() == count
        assert mean == pytest.approx(values[point_cells == cell].mean())
    _, _, mix = aggregate_mean(lonlat, labels, resolution)
    assert mix.shape == (len(cells), 3)
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="rows"):
        aggregate_mean(lonlat, values[:-1], resolution)

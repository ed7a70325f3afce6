"""The geolocation section's figures: the heatmap's hexagons, the credible region's outline and the places table."""

import json

import h3
import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from core.coords import haversine_km
from core.workflows.geolocate import Geolocation
from core.hexgrid import cell_centers, cell_polygon
from geovis import geolocation


def grid_result(cells: list[str], probs: list[float]) -> Geolocation:
    areas = np.array([h3.cell_area(c) for c in cells])
    return Geolocation("grid", cell_centers(cells), np.array(probs) / sum(probs), np.array(cells), areas, h3.get_resolution(cells[0]))


def test_the_region_outline_is_the_union_of_its_cells_at_one_resolution_or_several():
    disk = list(h3.grid_disk(h3.latlng_to_cell(48.85, 2.35, 3), 1))
    outline = shape(geolocation.region_outline(disk))
    assert outline.geom_type == "Polygon" and len(outline.interiors) == 0
    assert outline.area == pytest.approx(sum(cell_polygon(c).area for c in disk), rel=1e-3)
    far = h3.latlng_to_cell(-33.86, 151.21, 5)
    mixed = shape(geolocation.region_outline([*disk, far]))
    assert mixed.geom_type == "MultiPolygon" and len(mixed.geoms) == 2
    assert mixed.contains(shapely.Point(151.21, -33.86)) and mixed.contains(shapely.Point(2.35, 48.85))


def test_the_heatmap_draws_the_densest_cells_and_outlines_the_90_percent_region(monkeypatch):
    cells = list(h3.grid_disk(h3.latlng_to_cell(0.0, 0.0, 2), 2))  # 19 cells
    probs = [100.0] + [1.0] * (len(cells) - 1)
    result = grid_result(cells, probs)
    heat = geolocation.heatmap(result)
    features = json.loads(heat.hexagons)["features"]
    assert heat.drawn_cells == len(features) == 18, "the densest cells holding 99 % of the probability"
    assert heat.drawn_mass == pytest.approx(117 / 118)
    assert features[0]["properties"]["c"] == "#fde725", "the most likely hexagon is the top of the colour scale"
    assert features[0]["properties"]["t"] == f"P = {100 / 118:.2%} in this hexagon (resolution 2)"
    region = shape(heat.region_outline)
    assert region.contains(shapely.Point(*cell_centers(cells[:1])[0]))
    assert heat.drawn_resolutions == (2, 2) and heat.display is result


def test_a_spread_out_distribution_is_drawn_in_coarser_hexagons_that_keep_its_probability(monkeypatch):
    parent = h3.latlng_to_cell(10.0, 20.0, 1)
    cells = sorted(h3.cell_to_children(parent, 3))  # 49 cells of one resolution-1 cell
    other = h3.latlng_to_cell(-30.0, -60.0, 3)
    result = grid_result([*cells, other], [1.0] * len(cells) + [49.0])
    monkeypatch.setattr(geolocation, "MAX_DRAWN_CELLS", 5)
    display = geolocation.display_distribution(result)
    assert display.resolution == 1 and len(display.cells) == 2, "50 cells, then 8 at resolution 2, do not fit in 5"
    assert dict(zip(display.cells.tolist(), display.probs.tolist())) == pytest.approx({parent: 0.5, h3.cell_to_parent(other, 1): 0.5})
    np.testing.assert_allclose(display.areas, [h3.cell_area(str(c)) for c in display.cells])
    heat = geolocation.heatmap(result)
    assert heat.drawn_cells == 2 and heat.drawn_resolutions == (1, 1)
    assert heat.display.region_contains((20.0, 10.0)) and shape(heat.region_outline).contains(shapely.Point(20.0, 10.0))


def test_the_places_table_names_the_nearest_city_and_the_error():
    paris = h3.latlng_to_cell(48.8566, 2.3522, 5)
    result = grid_result([paris, h3.latlng_to_cell(-1.2833, 36.8167, 5)], [3.0, 1.0])
    table = geolocation.places_table(result, truth=(-0.1278, 51.5074))
    assert list(table["rank"]) == [1, 2] and list(table["probability"]) == ["75.00%", "25.00%"]
    assert list(table["country"]) == ["FR", "KE"] and table["nearest city"][1].endswith("Nairobi Area")
    lon, lat = cell_centers([paris])[0]
    assert table["error km"][0] == pytest.approx(round(float(haversine_km([lon, lat], [-0.1278, 51.5074])), 1))
    assert "error km" not in geolocation.places_table(result).columns

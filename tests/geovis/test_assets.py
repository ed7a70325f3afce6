"""Local browser assets: TopoJSON decoding, Natural Earth GeoJSON, Blue Marble in Web Mercator, Leaflet copy."""

import json
import os

import numpy as np
import pytest
import shapely.geometry
from PIL import Image

from geovis import assets


def test_topojson_decoding_applies_transform_deltas_and_reversed_arcs():
    topology = {
        "type": "Topology",
        "transform": {"scale": [0.5, 2.0], "translate": [-10.0, 5.0]},
        # arc 0: (0,0) -> (2,0) -> (2,1); arc 1: (2,1) -> (0,0) (delta-encoded)
        "arcs": [[[0, 0], [2, 0], [0, 1]], [[2, 1], [-2, -1]]],
        "objects": {
            "shapes": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "arcs": [[0, 1]], "id": "A", "properties": {"name": "triangle"}},
                    {"type": "LineString", "arcs": [~0]},
                    {"type": None},
                ],
            }
        },
    }
    collection = assets.topojson_to_geojson(topology, "shapes")
    polygon, line, empty = collection["features"]
    assert polygon["id"] == "A" and polygon["properties"] == {"name": "triangle"}
    assert polygon["geometry"] == {
        "type": "Polygon",
        "coordinates": [[[-10.0, 5.0], [-9.0, 5.0], [-9.0, 7.0], [-10.0, 5.0]]],
    }
    assert line["geometry"]["coordinates"] == [[-9.0, 7.0], [-9.0, 5.0], [-10.0, 5.0]]
    assert empty["geometry"] is None


def _rings(geometry):
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [ring for polygon in polygons for ring in polygon]


def test_natural_earth_conversion_gives_valid_geojson(tmp_path):
    countries_path, land_path = (tmp_path / f"{stem}.geojson" for stem in ("countries-110m", "land-110m"))
    written = assets.convert_natural_earth(target_dir=tmp_path)
    assert set(written) == {countries_path, land_path}
    countries = json.loads(countries_path.read_text())
    assert countries["type"] == "FeatureCollection"
    assert 170 <= len(countries["features"]) <= 180  # 177 in Natural Earth 1:110m
    names = {feature["properties"]["name"] for feature in countries["features"]}
    assert {"France", "Brazil", "Russia", "Fiji", "Antarctica"} <= names
    for feature in countries["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
        for ring in _rings(feature["geometry"]):
            points = np.asarray(ring)
            assert len(points) >= 4 and (points[0] == points[-1]).all(), "rings are closed"
            assert (np.abs(points[:, 0]) <= 180.0).all() and (np.abs(points[:, 1]) <= 90.0).all()
    by_name = {feature["properties"]["name"]: feature["geometry"] for feature in countries["features"]}
    for name in ("Fiji", "Russia", "Antarctica"):  # whole across ±180 in world-atlas, cut here
        assert by_name[name]["type"] == "MultiPolygon" and shapely.geometry.shape(by_name[name]).is_valid
        for ring in _rings(by_name[name]):
            points = np.asarray(ring)
            jumps = np.abs(np.diff(points[:, 0])) > 180.0
            along_pole = (np.abs(points[:-1, 1]) == 90.0) & (np.abs(points[1:, 1]) == 90.0)
            assert not (jumps & ~along_pole).any(), f"{name} has an edge across the whole map"
    assert shapely.geometry.shape(by_name["Antarctica"]).bounds[1] == -90.0, "Antarctica is closed along the pole"
    land = json.loads(land_path.read_text())
    assert [f["geometry"]["type"] for f in land["features"]] == ["MultiPolygon"]


def test_natural_earth_is_loadable_from_python(built_assets):
    assert len(assets.natural_earth("countries-110m")["features"]) == 177
    with pytest.raises(ValueError, match="unknown Natural Earth layer"):
        assets.natural_earth("rivers")


def test_mercator_rows_put_equator_at_centre_and_60_degrees_where_web_mercator_says():
    height = 1000
    latitudes = assets.mercator_row_latitudes(height)
    assert latitudes[0] == pytest.approx(assets.MERCATOR_MAX_LAT, abs=0.2)
    assert latitudes[-1] == pytest.approx(-assets.MERCATOR_MAX_LAT, abs=0.2)
    np.testing.assert_allclose(latitudes, -latitudes[::-1], atol=1e-9)

    # An equirectangular image (+90 at row 0) whose pixel value is 1 within 0.5° of 0° and ±60°.
    source_lat = 90.0 - (np.arange(1800) + 0.5) / 10.0
    marked = np.min(np.abs(source_lat[:, None] - np.array([60.0, 0.0, -60.0])), axis=1) < 0.5
    equirect = np.repeat((marked * 255).astype(np.uint8)[:, None], 4, axis=1)
    mercator = assets.equirect_to_mercator(equirect, height)[:, 0].astype(float)

    def centre_of_band(lo: int, hi: int) -> float:
        rows = np.arange(lo, hi)
        return float((rows * mercator[lo:hi]).sum() / mercator[lo:hi].sum()) + 0.5

    assert centre_of_band(400, 600) == pytest.approx(height / 2, abs=0.5)
    y60 = np.log(np.tan(np.pi / 4 + np.radians(60.0) / 2)) / np.pi  # Web Mercator y, normalised to [-1, 1]
    assert centre_of_band(0, 400) == pytest.approx(height / 2 * (1 - y60), abs=0.5)
    assert centre_of_band(600, height) == pytest.approx(height / 2 * (1 + y60), abs=0.5)


def test_bluemarble_basemap_is_square_mercator_and_idempotent(tmp_path):
    target = tmp_path / "bm.jpg"
    assets.build_bluemarble(width=256, target=target)
    with Image.open(target) as image:
        assert image.size == (256, 256) and image.mode == "RGB"
        pixels = np.asarray(image, dtype=float)
    # Antarctica's ice (bottom rows) is bright; the Southern Ocean above it is dark blue.
    assert pixels[-5:].mean() > 180 and pixels[int(256 * 0.75)].mean() < pixels[-5:].mean()
    stamp = target.stat().st_mtime_ns
    os.utime(target, ns=(stamp + 10**9, stamp + 10**9))
    assets.build_bluemarble(width=256, target=target)
    assert target.stat().st_mtime_ns == stamp + 10**9, "an up-to-date output is not rewritten"


def test_leaflet_copy_and_missing_sources(tmp_path):
    copied = assets.copy_leaflet(target=tmp_path / "leaflet")
    assert (copied / "leaflet.js").is_file() and (copied / "leaflet.css").is_file()
    assert (copied / "images" / "layers.png").is_file()
    with pytest.raises(assets.MissingAssetsError, match="npm ci"):
        assets.copy_leaflet(source=tmp_path / "nowhere", target=tmp_path / "other")

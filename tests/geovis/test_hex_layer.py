"""The hexagon layer's GeoJSON text (compact, escaped, split at ±180°) and its geometry cache."""

import json

import h3
import numpy as np
import pytest

from core.hexgrid import world_cells
from geovis import hex_layer


def test_the_hex_layer_is_compact_geojson_split_at_the_antimeridian():
    cells = world_cells(0)
    text = hex_layer.hex_layer_json(cells, ["#123456"] * len(cells), ["a <b>\nc"] * len(cells))
    collection = json.loads(text)
    assert len(collection["features"]) == 122
    assert collection["features"][0]["properties"] == {"c": "#123456", "t": "a &lt;b&gt;<br>c"}
    kinds = {f["geometry"]["type"] for f in collection["features"]}
    assert kinds == {"Polygon", "MultiPolygon"}, "cells crossing ±180° are split"
    polygons = [f["geometry"]["coordinates"] for f in collection["features"] if f["geometry"]["type"] == "Polygon"]
    coordinates = np.concatenate([np.asarray(ring).reshape(-1, 2) for rings in polygons for ring in rings])
    np.testing.assert_array_equal(coordinates, np.round(coordinates, hex_layer.COORDINATE_DECIMALS))
    assert np.abs(coordinates[:, 0]).max() <= 180.0
    assert "properties" in json.loads(hex_layer.hex_layer_json(cells[:1], ["#000000"]))["features"][0]
    assert json.loads(hex_layer.hex_layer_json([], [])) == {"type": "FeatureCollection", "features": []}
    with pytest.raises(ValueError, match="same length"):
        hex_layer.hex_layer_json(cells, ["#000000"])


def test_cells_finer_than_the_cached_world_and_mixed_resolutions_get_their_own_geometry():
    fine = [h3.latlng_to_cell(48.85, 2.35, 6), h3.latlng_to_cell(10.0, 179.99, 6)]
    mixed = [h3.latlng_to_cell(48.85, 2.35, 1), fine[0]]
    for cells in (fine, mixed):
        features = json.loads(hex_layer.hex_layer_json(cells, ["#000000"] * len(cells)))["features"]
        assert [f["geometry"] for f in features] == [json.loads(g) for g in hex_layer.geometry_texts(cells)]
    assert json.loads(hex_layer.hex_layer_json(fine, ["#000000"] * 2))["features"][1]["geometry"]["type"] == "MultiPolygon"


def test_world_geometry_is_kept_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_CACHE", str(tmp_path))
    hex_layer.world_geometry.cache_clear()
    try:
        geometry = hex_layer.world_geometry(0)
        path = hex_layer.world_geometry_path(0)
        assert path.is_relative_to(tmp_path) and json.loads(path.read_text()) == geometry and len(geometry) == 122
        hex_layer.world_geometry.cache_clear()
        monkeypatch.setattr(hex_layer, "geometry_texts", lambda cells: pytest.fail("recomputed instead of read from disk"))
        assert hex_layer.world_geometry(0) == geometry
    finally:
        hex_layer.world_geometry.cache_clear()

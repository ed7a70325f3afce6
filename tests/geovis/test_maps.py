"""Offline folium maps: no CDN or web request, deterministic HTML, point and H3 hexagon layers."""

import json
import re

import branca
import folium
import h3
import numpy as np
import pytest

from geovis import assets, maps
from geovis.colors import class_color
from geovis.hex_layer import GeoJsonText, HexLayer

pytestmark = pytest.mark.usefixtures("built_assets")

URL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


def _hosts(html: str) -> set[str]:
    return {match.split("//", 1)[1].lower() for match in URL.findall(html)}


def _asset_links(m: folium.Map) -> list[str]:
    """Every JS/CSS link st_folium would load for the map (it walks the tree the same way)."""
    def walk(element):
        yield element
        for child in element._children.values():
            yield from walk(child)

    links = []
    for element in walk(m):
        assert not isinstance(element, branca.colormap.ColorMap), "branca colormaps pull d3 from a CDN"
        links += [url for _, url in getattr(element, "default_js", []) + getattr(element, "default_css", [])]
    return links


def _sample_map(basemap: maps.Basemap = "bluemarble", n: int = 40) -> folium.Map:
    rng = np.random.default_rng(0)
    lonlat = np.stack([rng.uniform(-180, 180, n), rng.uniform(-60, 70, n)], axis=1)
    m = maps.base_map(center_lonlat=(5.0, 45.0), zoom=3, basemap=basemap)
    maps.add_samples(m, lonlat, rng.integers(-1, 5, n), [f"class {k}" for k in range(5)], max_markers=20)
    maps.add_points(m, lonlat[:3], tooltips=["a", "b", "c"], popups=["x", "y", "z"])
    return m


@pytest.mark.parametrize("basemap", ["bluemarble", "outlines"])
def test_offline_maps_reference_no_web_host(basemap):
    m = _sample_map(basemap)
    html = m.get_root().render()
    assert _hosts(html) == set(), f"web hosts referenced: {_hosts(html)}"
    assert _asset_links(m) == [assets.LEAFLET_JS_URL, assets.LEAFLET_CSS_URL]
    assert f'src="{assets.LEAFLET_JS_URL}"' in html and f'href="{assets.LEAFLET_CSS_URL}"' in html
    for cdn_library in ("jquery", "bootstrap", "awesome-markers", "fontawesome", "glyphicons", "d3"):
        assert cdn_library not in html.lower()
    assert "$(" not in html and "$.ajax" not in html, "jQuery is not loaded: nothing may use it"
    assert "bindPopup(" in html
    assert "preferCanvas" in html and '"preferCanvas": true' in html


@pytest.mark.parametrize("basemap", ["bluemarble", "outlines"])
def test_country_outlines_are_one_prebuilt_text_shared_by_every_map(basemap):
    """folium.GeoJson re-serialised and re-scanned the 177 countries on every map run (~0.15 s a click)."""
    [layer] = [child for child in maps.base_map(basemap=basemap)._children.values() if isinstance(child, GeoJsonText)]
    assert layer.geojson is maps.natural_earth_text("countries-110m"), "serialised once per process"
    assert json.loads(layer.geojson) == assets.natural_earth("countries-110m")
    assert layer.options["interactive"] is False and layer.options["attribution"] == "Natural Earth"
    assert layer.options["style"]["weight"] == 0.6 and layer.options["style"].get("fill", True) is (basemap == "outlines")
    html = maps.base_map(basemap=basemap).get_root().render()
    assert layer.geojson in html and json.dumps(layer.options["style"], sort_keys=True) in html


def test_bluemarble_overlay_spans_the_mercator_world():
    html = maps.base_map().get_root().render()
    assert f'"{assets.BLUEMARBLE_URL}"' in html
    assert "L.imageOverlay" in html and str(round(assets.MERCATOR_MAX_LAT, 4)) in html


def test_osm_is_the_only_online_option():
    html = maps.base_map(basemap="osm").get_root().render()
    assert _hosts(html) == {"tile.openstreetmap.org", "openstreetmap.org"} or _hosts(html) <= {
        "tile.openstreetmap.org", "openstreetmap.org", "www.openstreetmap.org"
    }
    assert "tile.openstreetmap.org" in html
    with pytest.raises(ValueError, match="unknown basemap"):
        maps.base_map(basemap="satellite")


def test_map_html_is_deterministic():
    assert _sample_map().get_root().render() == _sample_map().get_root().render()


def test_missing_assets_raise_with_the_setup_command(monkeypatch, tmp_path):
    monkeypatch.setattr(assets, "BLUEMARBLE_PATH", tmp_path / "absent.jpg")
    with pytest.raises(assets.MissingAssetsError, match="python -m geovis.assets"):
        maps.base_map()


def test_points_are_circle_markers_with_escaped_text():
    m = maps.base_map()
    group = maps.add_points(m, [[2.35, 48.85], [-74.0, 40.7]], ["#ff0000", "#00ff00"], tooltips=["<b>Paris</b>", "NYC"])
    markers = list(group._children.values())
    assert [type(marker) for marker in markers] == [folium.CircleMarker] * 2
    assert markers[0].location == [48.85, 2.35]  # folium wants (lat, lon)
    html = m.get_root().render()
    assert "&lt;b&gt;Paris&lt;/b&gt;" in html and "<b>Paris</b>" not in html
    with pytest.raises(ValueError, match="colors has 1 entries for 2 points"):
        maps.add_points(m, [[0.0, 0.0], [1.0, 1.0]], ["#000000"])


def _longitude_span(ring) -> float:
    lons = np.asarray(ring)[:, 0]
    return float(lons.max() - lons.min())


def test_hexagons_from_real_cells_split_at_the_antimeridian():
    crossing = h3.latlng_to_cell(10.0, 179.5, 2)
    assert _longitude_span([(lng, lat) for lat, lng in h3.cell_to_boundary(crossing)]) > 180  # really crosses
    cells = [crossing, h3.latlng_to_cell(48.85, 2.35, 2), h3.latlng_to_cell(-33.9, 151.2, 3)]
    m = maps.base_map()
    layer = maps.add_hexagons(m, cells, ["#ff0000", "#00ff00", "#0000ff"], tooltips=["a\nb", "c", "d"])
    features = json.loads(layer.geojson)["features"]
    assert len(features) == 3 and features[0]["geometry"]["type"] == "MultiPolygon"
    for feature in features:
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for ring in (ring for polygon in polygons for ring in polygon):
            assert _longitude_span(ring) < 30 and np.abs(np.asarray(ring)[:, 0]).max() <= 180
    assert features[1]["properties"]["c"] == "#00ff00" and features[0]["properties"]["t"] == "a<br>b"
    assert layer in m._children.values() and "bindTooltip" in m.get_root().render()


def test_samples_are_markers_when_few_and_hexagons_when_many():
    rng = np.random.default_rng(1)
    lonlat = np.stack([rng.uniform(-10, 10, 500), rng.uniform(40, 50, 500)], axis=1)
    labels = np.where(lonlat[:, 0] < 0, 1, 2)
    names = ["water", "forest", "crops"]

    few = maps.add_samples(maps.base_map(), lonlat[:10], labels[:10], names, max_markers=10)
    assert isinstance(few, folium.FeatureGroup) and len(few._children) == 10

    many = maps.add_samples(maps.base_map(), lonlat, labels, names, max_markers=10, resolution=2)
    assert isinstance(many, HexLayer)
    summary = maps.hex_summary(lonlat, labels, 2, len(names))
    assert summary["count"].sum() == 500 and len(json.loads(many.geojson)["features"]) == len(summary)
    assert (summary["class_counts"].apply(sum) == summary["count"]).all()
    west = summary.index[summary["class_counts"].apply(lambda c: c[1] > 0 and c[2] == 0)]
    assert (summary.loc[west, "dominant"] == 1).all()
    features = json.loads(many.geojson)["features"]  # one per cell, in the summary's (sorted) order
    fills = dict(zip(summary.index, (f["properties"]["c"] for f in features)))
    assert all(fills[cell] == class_color(1) for cell in west)
    assert "samples" in features[0]["properties"]["t"]

    by_count = maps.add_samples(maps.base_map(), lonlat, labels, names, max_markers=10, color_by="count")
    assert len({f["properties"]["c"] for f in json.loads(by_count.geojson)["features"]}) > 1

"""GIS in the app (AppTest): a GeoPackage region uploaded on the Embedding map and on Browse, bad vector files
explained, places and zones uploaded on Compare."""

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Polygon, box
from streamlit.testing.v1 import AppTest

from core.gis.region import PolygonRegion
from geovis import app_state
from geovis import embedding_layers as layers
from tests.app.apptest import APP, ok, open_page

RING = Polygon([(-20.0, -20.0), (60.0, -20.0), (60.0, 60.0), (-20.0, 60.0)], [[(0.0, 0.0), (40.0, 0.0), (40.0, 40.0), (0.0, 40.0)]])
GPKG = "application/geopackage+sqlite3"


def gpkg_bytes(tmp_path: Path, frame: gpd.GeoDataFrame, name: str = "ring.gpkg") -> bytes:
    frame.to_file(tmp_path / name, engine="pyogrio")
    return (tmp_path / name).read_bytes()


def ring_gpkg(tmp_path: Path) -> bytes:
    return gpkg_bytes(tmp_path, gpd.GeoDataFrame({"name": ["ring"]}, geometry=[RING], crs="EPSG:4326"))


def choose_file_region(at: AppTest, region_key: str, name: str, data: bytes, mime: str = GPKG) -> AppTest:
    at = ok(at.selectbox(key=f"{region_key}_region").set_value("Polygons from a file").run())
    assert any("Upload a vector file of polygons" in i.value for i in at.info)
    return ok(at.file_uploader(key=f"{region_key}_region_file").set_value((name, data, mime)).run())


def metric(at: AppTest, label: str) -> str:
    return next(m for m in at.metric if m.label == label).value


@pytest.fixture
def embedding_page(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    at.session_state[layers.RESOLUTION_KEY] = 2
    return ok(at.switch_page("app_pages/embedding_map.py").run())


def test_a_geopackage_region_on_the_embedding_map_embeds_its_polyfill(embedding_page, tmp_path):
    at = choose_file_region(embedding_page, layers.REGION_KEY, "ring.gpkg", ring_gpkg(tmp_path))
    expected = PolygonRegion.from_geometry("ring.gpkg", RING).cells(2)
    assert int(metric(at, "Hexagons").replace(",", "")) == len(expected) > 50
    assert any("1 polygon within" in c.value for c in at.caption), [c.value for c in at.caption]
    assert not at.error


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("ring.gpkg", b"not a geopackage", "ring.gpkg is not a readable GeoPackage file"),
        ("zones.zip", None, "zones.zip holds no .shp file"),
        ("points.geojson", b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
         b'"geometry":{"type":"Point","coordinates":[1,2]}}]}', "points.geojson has no polygons"),
        ("notes.txt", b"hello", "not a vector file this app reads (expected one of .csv"),
    ],
)
def test_bad_region_files_are_explained_and_the_world_is_kept(embedding_page, name, data, message):
    if data is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            bundle.writestr("readme.txt", "no shapefile")
        data = buffer.getvalue()
    at = choose_file_region(embedding_page, layers.REGION_KEY, name, data, "application/octet-stream")
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert metric(at, "Hexagons") == "5,882"  # the world, unchanged


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_a_region_file_without_crs_is_assumed_wgs84_and_says_so(embedding_page, tmp_path):
    data = gpkg_bytes(tmp_path, gpd.GeoDataFrame(geometry=[box(0.0, 0.0, 30.0, 30.0)]), "nocrs.gpkg")
    at = choose_file_region(embedding_page, layers.REGION_KEY, "nocrs.gpkg", data)
    assert any("has no CRS" in c.value and "assumed to be EPSG" in c.value for c in at.caption)
    assert int(metric(at, "Hexagons").replace(",", "")) == len(PolygonRegion.from_geometry("n", box(0.0, 0.0, 30.0, 30.0)).cells(2))


def test_a_geopackage_region_filters_browse(runs, tmp_path):
    at = open_page("app_pages/browse.py")
    at = choose_file_region(at, "browse", "ring.gpkg", ring_gpkg(tmp_path))
    dataset = app_state.load_default_dataset()  # the fixture's tiny dataset, the one Browse shows
    inside = PolygonRegion.from_geometry("r", RING).contains(dataset.lonlat)
    assert int(metric(at, "Shown samples").replace(",", "")) == int(inside.sum()) > 0
    assert not at.error
    speck = gpd.GeoDataFrame(geometry=[box(-140.0, -50.0, -139.99, -49.99)], crs="EPSG:4326")
    at = ok(at.file_uploader(key="browse_region_file").set_value(("speck.gpkg", gpkg_bytes(tmp_path, speck, "speck.gpkg"), GPKG)).run())
    assert metric(at, "Shown samples") == "0"
    assert any("Nothing to download" in c.value and "selection is empty" in c.value for c in at.caption)


def test_the_upload_cap_is_the_servers():
    from geovis import gis_widgets
    from tests.app.test_predict import server_config

    assert server_config()["server"]["maxUploadSize"] == gis_widgets.UPLOAD_LIMIT_MB


def test_places_and_zones_on_compare(runs, tmp_path):
    at = open_page("app_pages/compare.py")
    places = b"name,lon,lat\nParis,2.35,48.86\nNairobi,36.82,-1.28\nTypo,2.35,488.6\nFiji,178.4,-18.1\n"
    at = ok(at.file_uploader(key="compare_places_file").set_value(("places.csv", places, "text/csv")).run())
    table = next(d.value for d in at.dataframe if "argmax" in d.value.columns)
    assert list(table["name"]) == ["Paris", "Nairobi", "Fiji"]
    assert any("1 row(s) left out" in c.value and "latitude 488.6 is outside" in c.value for c in at.caption)
    np.testing.assert_allclose(table[[c for c in table.columns if c.startswith("p_") and c != "p_argmax"]].sum(axis=1), 1.0, rtol=1e-5)

    zones = gpd.GeoDataFrame({"zone": ["ring", "pacific"]}, geometry=[RING, box(170.0, -20.0, 190.0, 0.0)], crs="EPSG:4326")
    at = ok(at.file_uploader(key="compare_zones_file").set_value(("zones.gpkg", gpkg_bytes(tmp_path, zones, "zones.gpkg"), GPKG)).run())
    summary = next(d.value for d in at.dataframe if "dominant_cluster" in d.value.columns)
    assert list(summary["zone"]) == ["ring", "pacific"] and (summary["n_cells"] > 0).all()
    assert not at.error


def test_places_from_a_file_are_embedded_on_the_embedding_map(embedding_page, tmp_path):
    places = b"name,lon,lat\nParis,2.35,48.86\nPole,0,-89.9\n"
    at = ok(embedding_page.file_uploader(key="embedding_places_file").set_value(("places.csv", places, "text/csv")).run())
    assert any("2 places embedded" in c.value for c in at.caption) and not at.error
    fields = gpd.GeoDataFrame({"field": ["north", "south"]}, geometry=[box(10, 50, 11, 51), box(10, -51, 11, -50)], crs="EPSG:4326")
    at = ok(at.file_uploader(key="embedding_places_file").set_value(("fields.gpkg", gpkg_bytes(tmp_path, fields, "fields.gpkg"), GPKG)).run())
    assert any("2 line or polygon feature(s) are placed at a representative point" in c.value for c in at.caption)
    assert any("2 places embedded" in c.value for c in at.caption) and not at.error

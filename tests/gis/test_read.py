"""Reading users' vector files: every format, CRS handling, and a clear message for each kind of bad input."""

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from core.gis.read import GISInputError, extract_shapefile, read_vector_bytes, read_vector_file
from core.gis.region import region_from_layer

SQUARE = box(10.0, 20.0, 12.0, 22.0)


def polygons(crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[SQUARE, box(-5.0, -5.0, 5.0, 5.0)], crs=crs)


def file_bytes(frame: gpd.GeoDataFrame, tmp_path: Path, name: str) -> bytes:
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_file(path, engine="pyogrio", driver="KML" if name.endswith(".kml") else None)
    return path.read_bytes()


def zipped_shapefile(frame: gpd.GeoDataFrame, tmp_path: Path, with_prj: bool = True) -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "zones.shp", engine="pyogrio")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in folder.iterdir():
            if with_prj or path.suffix != ".prj":
                bundle.write(path, f"data/{path.name}")
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["zones.geojson", "zones.gpkg", "zones.parquet", "zones.fgb", "zones.kml"])
def test_each_format_reads_the_polygons_in_wgs84(tmp_path, name):
    layer = read_vector_bytes(file_bytes(polygons(), tmp_path, name), name)
    assert layer.frame.crs.equals("EPSG:4326") and len(layer.frame) == 2
    assert layer.frame.geometry.iloc[0].normalize().equals_exact(SQUARE.normalize(), 1e-6)


def test_a_zipped_shapefile_in_another_crs_is_reprojected(tmp_path):
    layer = read_vector_bytes(zipped_shapefile(polygons().to_crs("EPSG:3857"), tmp_path), "zones.zip")
    assert layer.frame.crs.equals("EPSG:4326")
    np.testing.assert_allclose(layer.frame.geometry.iloc[0].bounds, SQUARE.bounds, atol=1e-6)
    assert any("reprojected from EPSG:3857" in note for note in layer.notes)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_a_file_without_crs_is_assumed_wgs84_and_says_so(tmp_path):
    layer = read_vector_bytes(zipped_shapefile(polygons(crs=None), tmp_path, with_prj=False), "zones.zip")
    assert layer.frame.crs.equals("EPSG:4326")
    assert any("no CRS: it was assumed to be EPSG:4326" in note for note in layer.notes)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_a_crs_less_file_in_metres_is_refused(tmp_path):
    metres = polygons().to_crs("EPSG:3857").set_crs(None, allow_override=True)
    with pytest.raises(GISInputError, match="no CRS and its coordinates .* are not longitude/latitude"):
        read_vector_bytes(zipped_shapefile(metres, tmp_path, with_prj=False), "zones.zip")


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"this is not json", "zones.geojson", "zones.geojson is not a readable GeoJSON file"),
        (b"PK\x03\x04 broken", "zones.zip", "zones.zip is not a zip archive"),
        (b"garbage", "zones.gpkg", "zones.gpkg is not a readable GeoPackage file"),
        (b"garbage", "zones.parquet", "zones.parquet is not a readable GeoParquet file"),
        (b"a,b\n1,2\n", "places.csv", "needs a longitude and a latitude column"),
        (b"lon,lat\n1,x\n", "places.csv", "1 row\\(s\\) have no numeric lon/lat"),
        (b"{}", "zones.docx", "not a vector file this app reads"),
        (b'{"type": "FeatureCollection", "features": []}', "zones.geojson", "has no features with a geometry"),
    ],
)
def test_bad_files_get_clear_messages(data, name, message):
    with pytest.raises(GISInputError, match=message):
        read_vector_bytes(data, name)


def test_a_zip_without_a_shp(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("readme.txt", "no shapefile here")
    with pytest.raises(GISInputError, match="holds no .shp file"):
        read_vector_bytes(buffer.getvalue(), "zones.zip")


def test_a_zip_member_escaping_the_folder_is_refused_before_anything_is_written(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zones.shp", b"x")
        bundle.writestr("../../escaped.txt", b"gotcha")
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    with pytest.raises(GISInputError, match="would be written outside"):
        extract_shapefile(archive, folder, "evil.zip", [])
    assert not (tmp_path / "escaped.txt").exists()


def test_a_file_over_the_cap():
    with pytest.raises(GISInputError, match="zones.geojson is 2.0 MB; vector files can be at most 1 MB"):
        read_vector_bytes(b"x" * (2 * 2**20), "zones.geojson", max_bytes=2**20)


def test_a_layer_without_polygons_cannot_be_a_region(tmp_path):
    frame = gpd.GeoDataFrame(geometry=[Point(1.0, 2.0)], crs="EPSG:4326")
    layer = read_vector_bytes(file_bytes(frame, tmp_path, "p.gpkg"), "p.gpkg")
    with pytest.raises(GISInputError, match="p.gpkg has no polygons \\(its geometries: Point\\)"):
        region_from_layer(layer)


def test_cli_paths_stay_inside_the_data_root(tmp_path, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    polygons().to_file(root / "zones.gpkg", engine="pyogrio")
    polygons().to_file(tmp_path / "outside.gpkg", engine="pyogrio")
    monkeypatch.setenv("GEOCSP_DATA_ROOT", str(root))
    assert len(read_vector_file("zones.gpkg").frame) == 2
    with pytest.raises(GISInputError, match="must be inside the data folder"):
        read_vector_file("../outside.gpkg")
    with pytest.raises(GISInputError, match="no such file"):
        read_vector_file("missing.gpkg")

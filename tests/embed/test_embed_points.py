"""``embed_points`` on real files written by geopandas/pyogrio: every input format, another CRS, polygons and
lines, bad rows skipped or failing, every output format, chunks equal to one pass."""

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from core.embed import BadRowsError, EmbedInputError, embed_points, read_points
from core.embed.writers import partial_path
from core.location.loading import embed_lonlat, load_encoder

ENCODER = "encoding:theory"
LONLAT = np.array([[2.35, 48.86], [36.82, -1.28], [178.4, -18.1], [-179.9, 89.9], [-70.6, -33.4]])
NAMES = ["Paris", "Nairobi", "Fiji", "Pole", "Santiago"]


@pytest.fixture(scope="module")
def expected() -> np.ndarray:
    """The encoder's embeddings of :data:`LONLAT`, computed directly."""
    return embed_lonlat(load_encoder(ENCODER), LONLAT)


def places(crs="EPSG:4326") -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame({"name": NAMES, "rank": np.arange(5)}, geometry=gpd.points_from_xy(*LONLAT.T), crs="EPSG:4326")
    return frame.to_crs(crs)


def write_input(frame: gpd.GeoDataFrame, folder: Path, suffix: str) -> Path:
    """``frame`` written as ``places.<suffix>`` in the real format (a Shapefile zipped with its sidecar files)."""
    path = folder / f"places{suffix}"
    if suffix == ".csv":
        pd.DataFrame({"name": frame["name"], "Latitude": frame.geometry.y, "Longitude": frame.geometry.x, "rank": frame["rank"]}).to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".zip":
        frame.to_file(folder / "places.shp")
        with zipfile.ZipFile(path, "w") as archive:
            for part in folder.glob("places.*"):
                if part.suffix != ".zip":
                    archive.write(part, part.name)
    else:
        frame.to_file(path, engine="pyogrio")
    return path


def embeddings_of(path: Path) -> np.ndarray:
    return np.stack(gpd.read_parquet(path)["embedding"].to_numpy())


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".gpkg", ".geojson", ".zip", ".fgb"])
def test_every_input_format_embeds_its_points_and_keeps_its_columns(tmp_path, suffix, expected):
    source = write_input(places(), tmp_path, suffix)
    out = tmp_path / "out.parquet"
    report = embed_points(ENCODER, source, out, progress=False, chunk_size=2)
    back = gpd.read_parquet(out)
    assert (report.rows_read, report.embedded, report.bad_row_count, report.dim) == (5, 5, 0, expected.shape[1])
    order = back["rank"].to_numpy()  # FlatGeobuf stores its features in spatial-index order
    assert sorted(order) == list(range(5)) and list(back["name"]) == [NAMES[i] for i in order] and back.crs.equals("EPSG:4326")
    assert pq.read_schema(out).field("embedding").type.list_size == expected.shape[1]
    np.testing.assert_allclose(embeddings_of(out), expected[order], atol=1e-5)
    np.testing.assert_allclose(np.column_stack([back.geometry.x, back.geometry.y]), LONLAT[order], atol=1e-6)


def test_geoparquet_without_crs_metadata_is_lon_lat_and_a_null_crs_is_assumed_so(tmp_path, expected):
    table = pa.table({"id": np.arange(5), "geometry": shapely.to_wkb(shapely.points(LONLAT))})
    for crs, note in (({}, False), ({"crs": None}, True)):  # GeoParquet: no "crs" key is OGC:CRS84, null is unknown
        geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB", "geometry_types": [], **crs}}}
        pq.write_table(table.replace_schema_metadata({"geo": json.dumps(geo)}), tmp_path / "bare.parquet")
        report = embed_points(ENCODER, tmp_path / "bare.parquet", tmp_path / "out.npy", progress=False)
        assert any("no CRS: it was taken as EPSG:4326" in n for n in report.notes) == note
        np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)


def test_a_projected_crs_is_reprojected_to_wgs84(tmp_path, expected):
    source = write_input(places("EPSG:3857"), tmp_path, ".gpkg")
    report = embed_points(ENCODER, source, tmp_path / "out.parquet", progress=False)
    assert "reprojected from EPSG:3857 to EPSG:4326" in report.notes
    np.testing.assert_allclose(embeddings_of(tmp_path / "out.parquet"), expected, atol=1e-4)


def test_polygons_and_lines_are_embedded_at_a_representative_point_and_say_so(tmp_path):
    shapes = [box(10, 40, 12, 42), LineString([(0, 0), (4, 0)]), Point(5, 5)]
    source = tmp_path / "shapes.gpkg"
    gpd.GeoDataFrame({"kind": ["polygon", "line", "point"]}, geometry=shapes, crs="EPSG:4326").to_file(source)
    out = tmp_path / "out.parquet"
    report = embed_points(ENCODER, source, out, progress=False)
    back = gpd.read_parquet(out)
    assert report.representative_points == 2 and "representative point" in report.summary()
    assert list(back["embedded_at"]) == ["representative point", "representative point", "point"]
    assert back.geometry.geom_type.tolist() == ["Polygon", "LineString", "Point"]  # the input's own geometry is kept
    points = [shape.representative_point() for shape in shapes]
    expected = embed_lonlat(load_encoder(ENCODER), [[p.x, p.y] for p in points])
    np.testing.assert_allclose(embeddings_of(out), expected, atol=1e-5)


BAD_CSV = "name,lon,lat\nok,2.35,48.86\nblank,,10\ntext,abc,10\nnorth,10,95.5\nwest,-361,0\nok2,36.8,-1.28\n"


def test_bad_rows_are_listed_with_their_numbers_and_skipped(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text(BAD_CSV)
    report = embed_points(ENCODER, source, tmp_path / "out.csv", progress=False, chunk_size=4)
    assert [(b.row, b.reason) for b in report.bad_rows] == [
        (1, "longitude is blank or not a number"), (2, "longitude is blank or not a number"),
        (3, "latitude 95.5 is outside [-90, 90]"), (4, "longitude -361 is outside [-360, 360]"),
    ]
    assert (report.rows_read, report.embedded, report.bad_row_count) == (6, 2, 4)
    assert list(pd.read_csv(tmp_path / "out.csv")["name"]) == ["ok", "ok2"]


def test_bad_rows_fail_the_run_and_leave_no_file(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text(BAD_CSV)
    out = tmp_path / "out.parquet"
    with pytest.raises(BadRowsError, match=r"4 row\(s\) cannot be embedded: row 1: longitude is blank.*row 4: longitude -361"):
        embed_points(ENCODER, source, out, progress=False, on_bad_rows="fail", chunk_size=1)
    assert not out.exists() and not partial_path(out).exists()


def test_longitudes_past_180_are_wrapped(tmp_path, expected):
    source = tmp_path / "east.csv"
    pd.DataFrame({"lon": LONLAT[:, 0] % 360.0, "lat": LONLAT[:, 1]}).to_csv(source, index=False)  # 0-360 longitudes
    embed_points(ENCODER, source, tmp_path / "out.npy", progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "out.index.csv")["lon"], LONLAT[:, 0], atol=1e-9)


def test_an_empty_geometry_is_a_bad_row(tmp_path):
    source = tmp_path / "holes.geojson"
    gpd.GeoDataFrame({"n": [0, 1]}, geometry=[Point(1, 1), None], crs="EPSG:4326").to_file(source)
    report = embed_points(ENCODER, source, tmp_path / "out.parquet", progress=False)
    assert [b.row for b in report.bad_rows] == [1] and "no coordinates" in report.bad_rows[0].reason


def test_every_output_format(tmp_path, expected):
    source = write_input(places(), tmp_path, ".parquet")
    columns = tmp_path / "columns.parquet"
    embed_points(ENCODER, source, columns, vector="columns", progress=False)
    frame = gpd.read_parquet(columns)
    numbered = [c for c in frame.columns if c.startswith("emb_")]
    assert numbered[:2] == ["emb_000", "emb_001"] and len(numbered) == expected.shape[1] and "embedding" not in frame
    np.testing.assert_allclose(frame[numbered].to_numpy(), expected, atol=1e-5)

    report = embed_points(ENCODER, source, tmp_path / "out.gpkg", progress=False)
    package = gpd.read_file(tmp_path / "out.gpkg")
    assert any("numbered columns" in note for note in report.notes) and list(package["name"]) == NAMES
    np.testing.assert_allclose(package[numbered].to_numpy(), expected, atol=1e-5)
    assert package.crs.equals("EPSG:4326")

    embed_points(ENCODER, source, tmp_path / "out.csv", progress=False)
    table = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_allclose(table[["point_lon", "point_lat"]].to_numpy(), LONLAT)
    np.testing.assert_allclose(table[numbered].to_numpy(), expected, atol=1e-5)

    embed_points(ENCODER, source, tmp_path / "out.npy", progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)
    index = pd.read_csv(tmp_path / "out.index.csv")
    assert list(index["row"]) == list(range(5))
    np.testing.assert_allclose(index[["lon", "lat"]].to_numpy(), LONLAT)
    assert not list(tmp_path.glob(".*partial*"))


def test_chunks_give_the_same_output_as_one_pass(tmp_path):
    rng = np.random.default_rng(0)
    lonlat = np.column_stack([rng.uniform(-180, 180, 300), rng.uniform(-90, 90, 300)])
    lonlat[[7, 150]] = np.nan
    source = tmp_path / "many.csv"
    pd.DataFrame({"id": np.arange(300), "lon": lonlat[:, 0], "lat": lonlat[:, 1]}).to_csv(source, index=False)
    for name, size in (("one.npy", 1000), ("chunked.npy", 7)):
        report = embed_points(ENCODER, source, tmp_path / name, progress=False, chunk_size=size)
        assert [b.row for b in report.bad_rows] == [7, 150]
    np.testing.assert_array_equal(np.load(tmp_path / "one.npy"), np.load(tmp_path / "chunked.npy"))
    assert pd.read_csv(tmp_path / "chunked.index.csv").equals(pd.read_csv(tmp_path / "one.index.csv"))


def test_inputs_and_options_that_cannot_be_used_are_refused_before_anything_is_written(tmp_path):
    source = write_input(places(), tmp_path, ".csv")
    with pytest.raises(EmbedInputError, match="no such file"):
        embed_points(ENCODER, tmp_path / "missing.csv", tmp_path / "out.parquet", progress=False)
    with pytest.raises(EmbedInputError, match="not a points file"):
        embed_points(ENCODER, tmp_path / "notes.txt", tmp_path / "out.parquet", progress=False)
    with pytest.raises(EmbedInputError, match="write one of"):
        embed_points(ENCODER, source, tmp_path / "out.shp", progress=False)
    with pytest.raises(EmbedInputError, match="vector must be one of"):
        embed_points(ENCODER, source, tmp_path / "out.parquet", vector="grid", progress=False)
    clash = tmp_path / "clash.csv"
    clash.write_text("lon,lat,embedded_at\n1,2,x\n")
    with pytest.raises(EmbedInputError, match="already has column.*'embedded_at'"):
        embed_points(ENCODER, clash, tmp_path / "out.parquet", progress=False)
    assert not (tmp_path / "out.parquet").exists()


def test_read_points_reads_a_small_file_whole_with_the_same_checks(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text(BAD_CSV)
    table = read_points(source)
    assert list(table.frame["name"]) == ["ok", "ok2"] and table.frame.crs.equals("EPSG:4326")
    np.testing.assert_allclose(table.lonlat, [[2.35, 48.86], [36.8, -1.28]])
    assert any("4 row(s) left out (row 1: longitude is blank" in note for note in table.notes())

"""Every export round-trips through geopandas: columns, CRS, valid geometry and row count, in all three formats."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from core.workflows import embedding_map as em
from core.workflows.geolocate import Geolocation
from core.gis.export import FORMATS, EmptyExportError, hexagon_layer, layer_bytes, points_layer, write_layer
from core.gis.tables import class_probability_layer, embedded_places_layer, embedding_layer, heatmap_layer, samples_layer
from core.hexgrid import cell_area_km2, cell_centers, world_cells
from tests.app.test_app import tiny_dataset

CELLS = world_cells(1)[:30] + ["817ebffffffffff"]  # and one cell across ±180


def read_back(frame: gpd.GeoDataFrame, tmp_path: Path, fmt: str) -> gpd.GeoDataFrame:
    """``frame`` written as ``fmt`` and read again, checked for CRS, row count and valid geometry."""
    path = write_layer(frame, tmp_path / f"layer{FORMATS[fmt][1]}")
    back = gpd.read_parquet(path) if fmt == "parquet" else gpd.read_file(path)
    assert back.crs.equals("EPSG:4326")
    assert len(back) == len(frame)
    assert back.geometry.is_valid.all() and not back.geometry.is_empty.any()
    return back


@pytest.mark.parametrize("fmt", FORMATS)
def test_samples_round_trip(tmp_path, fmt):
    dataset = tiny_dataset(40)
    dataset.records.loc[3, ["lon", "lat"]] = np.nan  # an unlocated record is left out
    dataset.records["timestamp"] = pd.Timestamp("2024-05-01", tz="UTC")
    back = read_back(samples_layer(dataset), tmp_path, fmt)
    assert {"record", "label", "class", "split", "date", "site_id"} <= set(back.columns) and 3 not in set(back["record"])
    first = back.iloc[0]
    assert dataset.class_names[first["label"]] == first["class"]
    assert first["split"] == dataset.records.loc[first["record"], "split"]
    assert pd.Timestamp(first["date"]).date().isoformat() == "2024-05-01"
    np.testing.assert_allclose([first.geometry.x, first.geometry.y], dataset.lonlat[first["record"]], atol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
def test_embedding_map_round_trip_with_vectors(tmp_path, fmt):
    embeddings = np.random.default_rng(0).normal(size=(len(CELLS), 4)).astype(np.float32)
    back = read_back(embedding_layer(CELLS, embeddings, k=3, vector="list"), tmp_path, fmt)
    assert list(back["cell"]) == CELLS and list(back["cluster"]) == em.kmeans_clusters(embeddings, 3).tolist()
    assert back["pca_color"].str.fullmatch("#[0-9a-f]{6}").all()
    if fmt == "parquet":  # GeoParquet keeps the vector as one list column
        np.testing.assert_allclose(np.stack(back["embedding"]), embeddings)
    else:
        np.testing.assert_allclose(back[[f"embedding_{i}" for i in range(4)]].to_numpy(), embeddings, rtol=1e-6)
    across = back.geometry.iloc[-1]
    assert across.geom_type == "MultiPolygon" and -180.0 <= across.bounds[0] and across.bounds[2] <= 180.0


def test_embedding_vectors_as_columns_everywhere(tmp_path):
    embeddings = np.eye(len(CELLS), 3, dtype=np.float32)
    back = read_back(embedding_layer(CELLS, embeddings, k=2, vector="columns"), tmp_path, "parquet")
    assert [c for c in back.columns if c.startswith("emb")] == ["emb_000", "emb_001", "emb_002"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_class_probabilities_round_trip(tmp_path, fmt):
    probs = np.random.default_rng(1).dirichlet(np.ones(4), size=len(CELLS))
    names = ["water", "forest", "desert", "ice"]
    back = read_back(class_probability_layer(CELLS, probs, names, classes=[1, 3]), tmp_path, fmt)
    assert list(back.columns) == ["cell", "p_forest", "p_ice", "argmax", "p_argmax", "entropy", "geometry"]
    np.testing.assert_allclose(back["p_ice"], probs[:, 3])
    assert list(back["argmax"]) == [names[i] for i in probs.argmax(1)]
    np.testing.assert_allclose(back["entropy"], -(probs * np.log(probs)).sum(1))


@pytest.mark.parametrize("fmt", FORMATS)
def test_geolocation_heatmap_round_trip(tmp_path, fmt):
    cells = np.array(world_cells(0))
    probs = np.random.default_rng(2).dirichlet(np.ones(len(cells)))
    result = Geolocation("grid", cell_centers(cells), probs, cells, cell_area_km2(cells), 0)
    back = read_back(heatmap_layer(result), tmp_path, fmt)
    assert back["probability"].sum() == pytest.approx(1.0) and list(back["rank"]) == list(range(1, len(cells) + 1))
    assert (np.diff(back["density_per_km2"]) <= 0).all() and set(back["resolution"]) == {0}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_generic_points_table_round_trips(tmp_path, fmt):
    layer = points_layer([[2.35, 48.86], [-170.0, -10.0]], {"residual": [0.5, -1.25], "name": ["Paris", "Pacific"]})
    back = read_back(layer, tmp_path, fmt)
    assert list(back["residual"]) == [0.5, -1.25] and list(back["name"]) == ["Paris", "Pacific"]


def test_empty_selections_are_not_written(tmp_path):
    with pytest.raises(EmptyExportError, match="nothing to export to empty.gpkg: the selection has no rows"):
        write_layer(hexagon_layer([]), tmp_path / "empty.gpkg")
    assert not (tmp_path / "empty.gpkg").exists()
    with pytest.raises(EmptyExportError):
        layer_bytes(points_layer(np.empty((0, 2))), "geojson")


def test_download_bytes_are_the_file(tmp_path):
    data = layer_bytes(points_layer([[1.0, 2.0]], {"v": [3]}), "gpkg")
    (tmp_path / "d.gpkg").write_bytes(data)
    assert gpd.read_file(tmp_path / "d.gpkg")["v"].tolist() == [3]


def test_unknown_suffix_and_mismatched_columns():
    with pytest.raises(ValueError, match="write .gpkg"):
        write_layer(points_layer([[1.0, 2.0]]), "out.shp")
    with pytest.raises(ValueError, match="column 'v' has 2 values for 1 rows"):
        points_layer([[1.0, 2.0]], {"v": [1, 2]})


@pytest.mark.parametrize("vector", ["list", "columns"])
def test_embedded_places_keep_their_attributes(tmp_path, vector):
    places = points_layer([[2.35, 48.86], [139.69, 35.68]], {"name": ["Paris", "Tokyo"]})
    layer = embedded_places_layer(places, np.ones((2, 3), dtype=np.float32), [4, -1], vector)
    back = read_back(layer, tmp_path, "parquet")
    assert list(back["name"]) == ["Paris", "Tokyo"] and list(back["cluster"]) == [4, -1]
    assert ("embedding" in back.columns) == (vector == "list") and ("emb_002" in back.columns) == (vector == "columns")

"""``python -m core export``: each kind written and read back, regions from files under the data root, clear errors."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from core.__main__ import main
from core.data.paths import PROJECT_ROOT
from core.hexgrid import cell_centers
from core.train import runner
from tests.data.fixtures import INAT_IMAGES, write_inat2018
from tests.workflows.test_predict import tiny_runs  # noqa: F401 — a fixture

EUROPE = box(-10.0, 35.0, 30.0, 60.0)
DEFAULT_BUILT = (PROJECT_ROOT / "data/cache/default/manifest.json").exists()


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """A data root with ``europe.gpkg`` (one polygon) and ``ocean.geojson`` (a polygon far from any land sample)."""
    root = tmp_path / "data"
    root.mkdir()
    gpd.GeoDataFrame({"name": ["europe"]}, geometry=[EUROPE], crs="EPSG:4326").to_file(root / "europe.gpkg")
    gpd.GeoDataFrame(geometry=[box(-140.0, -50.0, -139.0, -49.0)], crs="EPSG:4326").to_file(root / "ocean.geojson")
    gpd.GeoDataFrame({"zone": ["a", "b"]}, geometry=[EUROPE, box(100.0, 0.0, 140.0, 40.0)], crs="EPSG:4326").to_file(root / "zones.gpkg")
    monkeypatch.setenv("GEOCSP_DATA_ROOT", str(root))
    return root


@pytest.mark.skipif(not DEFAULT_BUILT, reason="default dataset not built (run setup)")
def test_samples_in_a_region(data_root, tmp_path, capsys):
    out = tmp_path / "samples.gpkg"
    assert main(["export", "samples", "--region", "europe.gpkg", "--out", str(out)]) == 0
    back = gpd.read_file(out)
    assert len(back) > 10 and f"wrote {len(back):,} samples rows" in capsys.readouterr().out
    assert back.geometry.within(EUROPE.buffer(1e-9)).all() and {"label", "class", "split", "date"} <= set(back.columns)


@pytest.mark.skipif(not DEFAULT_BUILT, reason="default dataset not built (run setup)")
def test_an_empty_selection_is_not_written(data_root, tmp_path, capsys):
    out = tmp_path / "none.geojson"
    assert main(["export", "samples", "--region", "ocean.geojson", "--out", str(out)]) == 2
    assert "nothing to export to none.geojson" in capsys.readouterr().err and not out.exists()


def test_samples_of_a_user_dataset_take_its_loader_options(data_root, tmp_path, capsys):
    # `export samples --dataset` had no --option: a split other than the loader's default (or a
    # ground-truth folder) could not be exported.
    write_inat2018(data_root / "inat", "val", images=INAT_IMAGES[:2])
    out = tmp_path / "val.geojson"
    assert main(["export", "samples", "--dataset", "inat2018:inat", "--option", "split=val", "--out", str(out)]) == 0
    assert len(gpd.read_file(out)) == 1, "the val split's one located image"
    assert main(["export", "samples", "--dataset", "inat2018:inat", "--out", str(out)]) == 2
    assert "train2018.json: file not found" in capsys.readouterr().err


def test_embedding_of_a_region_with_vectors(data_root, tmp_path):
    out = tmp_path / "embedding.parquet"
    args = ["export", "embedding", "--encoder", "untrained:wrap", "--region", "europe.gpkg", "--vector", "list", "--k", "3"]
    assert main([*args, "--out", str(out)]) == 0
    back = gpd.read_parquet(out)
    centres = cell_centers(back["cell"])
    assert len(back) > 5 and EUROPE.contains(gpd.points_from_xy(centres[:, 0], centres[:, 1])).all()
    assert set(back["cluster"]) == {0, 1, 2} and len(back["embedding"].iloc[0]) == 256  # the encoder network's width


def test_class_probabilities_and_zonal_summary_of_a_run(data_root, tmp_path, tiny_runs, monkeypatch):  # noqa: F811
    monkeypatch.setattr(runner, "load_feature_data", lambda config, progress=None: tiny_runs.data)
    names = tiny_runs.data.class_names
    out = tmp_path / "probs.gpkg"
    run = str(tiny_runs.location)
    assert main(["export", "class-probs", "--run", run, "--resolution", "1", "--classes", f"{names[1]},2", "--out", str(out)]) == 0
    back = gpd.read_file(out)
    assert len(back) == 842 and list(back.columns) == ["cell", f"p_{names[1]}", f"p_{names[2]}", "argmax", "p_argmax", "entropy", "geometry"]
    assert ((back["entropy"] >= 0) & (back["entropy"] <= np.log(len(names)) + 1e-9)).all()

    zonal = tmp_path / "zonal.geojson"
    assert main(["export", "zonal", "--run", run, "--zones", "zones.gpkg", "--resolution", "2", "--out", str(zonal)]) == 0
    summary = gpd.read_file(zonal)
    assert list(summary["zone"]) == ["a", "b"] and (summary["n_cells"] > 0).all()
    means = summary[[f"p_{name}" for name in names]].to_numpy()
    np.testing.assert_allclose(means.sum(axis=1), 1.0, rtol=1e-5)


def test_bad_arguments_say_what_is_wrong(data_root, tmp_path, capsys):
    assert main(["export", "embedding", "--encoder", "untrained:wrap", "--out", str(tmp_path / "x.shp")]) == 2
    assert "write .gpkg (GeoPackage)" in capsys.readouterr().err
    assert main(["export", "embedding", "--encoder", "untrained:wrap", "--region", "../outside.gpkg", "--out", str(tmp_path / "x.gpkg")]) == 2
    assert "must be inside the data folder" in capsys.readouterr().err
    assert main(["export", "zonal", "--out", str(tmp_path / "z.gpkg")]) == 2
    assert "export zonal needs --zones" in capsys.readouterr().err


@pytest.mark.skipif(not DEFAULT_BUILT, reason="default dataset not built (run setup)")
def test_geolocation_heatmap_of_a_record(data_root, tmp_path, tiny_runs, monkeypatch):  # noqa: F811
    from core.workflows import geolocate
    from core.train.runner import run as train
    from tests.workflows.test_predict import tiny_config

    csp = train(tiny_config("pretrain"), tmp_path / "20250101-000003-pretrain-dddddd", data=tiny_runs.data).run_dir
    monkeypatch.setattr(geolocate, "load_feature_data", lambda config, progress=None: tiny_runs.data)
    out = tmp_path / "heat.parquet"
    assert main(["export", "heatmap", "--run", str(csp), "--record", "3", "--resolution", "1", "--out", str(out)]) == 0
    back = gpd.read_parquet(out)
    assert len(back) == 842 and back["probability"].sum() == pytest.approx(1.0, abs=1e-6)
    assert list(back["rank"]) == list(range(1, 843)) and (np.diff(back["density_per_km2"]) <= 1e-12).all()

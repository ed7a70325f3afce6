"""The embedded default dataset: real labels at known places, deterministic cached rebuilds."""

import json

import numpy as np
import pytest

from core.data import default_dataset as dd
from core.data.default_dataset import DefaultDatasetConfig, build_default_dataset, load_default_dataset
from core.data.sources import IGBP_CLASSES, KOPPEN_GROUPS, VIEW_SOURCES, load_raster

SMALL = DefaultDatasetConfig(n_locations=400, chip_px=16, seed=7)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = tmp_path_factory.mktemp("default") / "default"
    return load_default_dataset(SMALL, directory=directory)


def test_labels_at_known_places_are_right():
    landcover, climate = load_raster("landcover"), load_raster("climate")
    places = np.array([[10.0, 23.0], [-62.0, -4.0], [-40.0, 75.0], [135.0, -25.0]])  # Sahara, Amazon, Greenland, Australia
    labels = dd._label_places(places, 2.0, landcover, climate, batch_size=2)
    names = [IGBP_CLASSES[i] for i in labels["label"]]
    assert names[:3] == ["Barren or sparsely vegetated", "Evergreen broadleaf forest", "Snow and ice"]
    assert labels["climate_name"].tolist() == ["B arid", "A tropical", "E polar", "B arid"]
    nearest = dd._nearest_places(np.array([[2.35, 48.86], [-74.0, 40.71], [17.08, -22.56]]))
    assert nearest["country"].tolist() == ["FR", "US", "NA"]
    assert (nearest["place_distance_km"] < 30).all()


def test_built_dataset_is_real_and_complete(built):
    records = built.records
    assert len(built) == SMALL.n_locations
    assert (records["landcover_centre"] != 0).all(), "every place is sampled on land"
    assert records["lat"].between(-90, 90).all() and records["lon"].between(-180, 180).all()
    assert sum(built.manifest["class_counts"].values()) == len(built)
    assert set(records["split"]) == {"train", "val", "test"}
    assert records.loc[records["split"] != "train", "label_rank"].isna().all()
    assert set(records["climate_name"]) <= set(KOPPEN_GROUPS)
    for view in VIEW_SOURCES:
        chips = built.chips[view]
        assert chips.shape == (len(built), 16, 16, 3) and chips.dtype == np.uint8
        assert chips.reshape(len(built), -1).std(axis=1).mean() > 2, f"{view} chips are not flat"
    views = built.load_views(0)
    assert [name for name, _ in views] == list(VIEW_SOURCES)
    assert all(image.size == (16, 16) and image.mode == "RGB" for _, image in views)
    # Southern-hemisphere, polar and antimeridian places exist in a uniform land sample.
    assert (records["lat"] < -60).any() and (records["lat"] > 60).any()


def test_same_seed_rebuilds_bit_identical_files(built, tmp_path):
    again = build_default_dataset(SMALL, tmp_path / "again")
    assert again["files"] == built.manifest["files"]
    other = build_default_dataset(DefaultDatasetConfig(n_locations=400, chip_px=16, seed=8), tmp_path / "other")
    assert other["files"]["records.csv"] != built.manifest["files"]["records.csv"]


def test_cache_hit_and_rebuild_when_a_source_changes(tmp_path, monkeypatch):
    directory = tmp_path / "default"
    first = load_default_dataset(SMALL, directory=directory).manifest
    calls = []
    original_build = dd.build_default_dataset
    monkeypatch.setattr(dd, "build_default_dataset", lambda *a, **k: calls.append(1) or original_build(*a, **k))

    assert load_default_dataset(SMALL, directory=directory).manifest == first
    assert calls == [], "an up-to-date build is reused"

    original_sources = dd.source_fingerprints
    changed = original_sources()
    changed["landcover"] = {**changed["landcover"], "sha256": "0" * 64}
    monkeypatch.setattr(dd, "source_fingerprints", lambda: changed)
    rebuilt = load_default_dataset(SMALL, directory=directory).manifest
    assert calls == [1] and rebuilt["sources"]["landcover"]["sha256"] == "0" * 64
    assert rebuilt["files"] == first["files"], "same sources content → same data"

    monkeypatch.setattr(dd, "source_fingerprints", original_sources)
    (directory / "chips_etopo.npy").write_bytes(b"truncated")
    load_default_dataset(SMALL, directory=directory)
    assert calls == [1, 1], "a damaged file triggers a rebuild"
    assert dd.verify_default_dataset(directory) == []
    assert json.loads((directory / "manifest.json").read_text())["n_locations"] == SMALL.n_locations


def test_random_split_is_available_for_comparison(tmp_path):
    blocked = build_default_dataset(SMALL, tmp_path / "blocked")
    random = load_default_dataset(DefaultDatasetConfig(n_locations=400, chip_px=16, seed=7, split_scheme="random"), directory=tmp_path / "random")
    assert random.manifest["config"]["split_scheme"] == "random"
    assert random.manifest["files"]["chips_bluemarble.npy"] == blocked["files"]["chips_bluemarble.npy"]
    assert random.manifest["files"]["records.csv"] != blocked["files"]["records.csv"]
    assert random.records["split"].value_counts()["train"] == pytest.approx(0.7 * 400, abs=2)


def test_bad_config_names_the_parameter(tmp_path):
    with pytest.raises(ValueError, match="chip_px"):
        load_default_dataset(DefaultDatasetConfig(chip_px=1), directory=tmp_path / "x")

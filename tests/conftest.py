"""Shared fixtures: single-threaded torch, the locally served browser assets, a fresh data root, a fresh runs
folder and small real training data (a small default dataset: real chips and labels, real CNN features)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from core.data.default_dataset import DefaultDatasetConfig, load_default_dataset
from core.image.features import extract_features
from core.train.data import feature_data_from
from geovis import assets

SMALL = DefaultDatasetConfig(n_locations=1200, chip_px=16, seed=11)


@pytest.fixture(scope="session", autouse=True)
def single_torch_thread() -> Iterator[None]:
    """Tests use small batches: one intra-op thread avoids spin-waiting when the app server runs beside them."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def built_assets() -> None:
    """Leaflet, Natural Earth GeoJSON and the Blue Marble basemap under static/vendor (what setup builds)."""
    assets.build_assets()


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data root (GEOCSP_DATA_ROOT points at it) inside the test's temporary folder."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("GEOCSP_DATA_ROOT", str(root))
    return root


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """Training data of a small default dataset (1 200 places, 16 px chips) with small-CNN features."""
    root = tmp_path_factory.mktemp("small-default")
    dataset = load_default_dataset(SMALL, directory=root / "default")
    features = extract_features(dataset, "small_cnn", cache_dir=root / "features")
    return feature_data_from(dataset, features, "small_cnn|bluemarble")


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh runs folder (GEOCSP_RUNS points at it) inside the test's temporary folder."""
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"

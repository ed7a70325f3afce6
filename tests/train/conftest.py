"""Small real training data: a small default dataset (real chips and labels) with real CNN features."""

import pytest

from core.data.default_dataset import DefaultDatasetConfig, load_default_dataset
from core.image.features import extract_features
from core.train.data import feature_data_from

SMALL = DefaultDatasetConfig(n_locations=1200, chip_px=16, seed=11)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("small-default")
    dataset = load_default_dataset(SMALL, directory=root / "default")
    features = extract_features(dataset, "small_cnn", cache_dir=root / "features")
    return feature_data_from(dataset, features, "small_cnn|bluemarble")


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"

"""The default pre-training recipe: its config builds, a tiny real run trains, the embedding layer is
the one the config names, and the unlabelled pre-training pool stays in the training blocks."""

import numpy as np
import pytest
import torch

from core.data.default_dataset import load_default_dataset
from core.data.pretrain_pool import PretrainPoolConfig, load_pretrain_pool
from core.data.splits import spatial_blocks
from core.location.encoder import build_location_encoder
from core.location.params import ConfigError
from core.train.config import RunConfig
from core.train.data import with_unlabelled
from core.train.loop import fit
from core.train.runner import build_task
from tests.conftest import SMALL


def test_the_default_config_builds_and_names_its_embedding_layer():
    config = RunConfig()
    location = build_location_encoder(config.location_config())
    points = torch.tensor([[0.0, 0.0], [120.0, -45.0], [-179.5, 89.0]])
    embedded = location.eval().embed(points)
    assert embedded.shape == (3, location.embedding_dim)
    if config.location_config().embedding == "concat":
        torch.testing.assert_close(embedded[:, : location.encoding.out_dim], location.features(points).float())
        torch.testing.assert_close(embedded[:, location.encoding.out_dim :], location(points))
    assert RunConfig.from_yaml(config.to_yaml()).to_dict() == config.to_dict()


def test_the_embedding_layer_is_checked_and_written_only_when_not_the_default():
    assert "embedding" not in build_location_encoder({"encoding": "xyz"}).config.to_dict()
    concat = build_location_encoder({"encoding": "xyz", "embedding": "concat", "output_dim": 8})
    assert concat.config.to_dict()["embedding"] == "concat" and concat.embedding_dim == 3 + 8
    with pytest.raises(ConfigError, match="embedding"):
        build_location_encoder({"encoding": "xyz", "embedding": "hidden"})


def test_a_tiny_pretraining_run_with_the_default_recipe_trains(small_data):
    config = RunConfig.from_dict({"epochs": 2, "batch_size": 256})
    task = build_task(config, small_data)
    with torch.no_grad():
        before = task.model.eval() and task.evaluate(small_data.indices("val"))["val_loss"]
    result = fit(task, config, None)
    with torch.no_grad():
        after = task.model.eval() and task.evaluate(small_data.indices("val"))["val_loss"]
    assert len(result.history) == 2 and np.isfinite(after) and after < before


def test_unlabelled_places_join_pretraining_but_not_the_label_budgets(small_data):
    lonlat = np.array([[10.0, 5.0], [20.0, -5.0], [30.0, 45.0]], dtype=np.float32)
    grown = with_unlabelled(small_data, lonlat, np.ones((3, small_data.feature_dim), dtype=np.float32), "pool")
    assert len(grown.indices("train")) == len(small_data.indices("train")) + 3
    assert torch.equal(grown.labels[-3:], torch.full((3,), -1))
    for ratio in (0.05, 1.0):
        assert torch.equal(grown.label_budget(ratio), small_data.label_budget(ratio))
    assert grown.fingerprint != small_data.fingerprint


def test_the_pretraining_pool_lies_in_training_blocks_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_CACHE", str(tmp_path / "cache"))
    dataset = load_default_dataset(SMALL, directory=tmp_path / "default")
    pool = load_pretrain_pool(dataset, PretrainPoolConfig(400), "small_cnn")
    records = dataset.records
    train_blocks = set(spatial_blocks(records[["lon", "lat"]].to_numpy(np.float64)[records["split"] == "train"]))
    other_blocks = set(spatial_blocks(records[["lon", "lat"]].to_numpy(np.float64)[records["split"] != "train"]))
    blocks = set(spatial_blocks(pool.lonlat.astype(np.float64)))
    assert 0 < len(pool.lonlat) < 400 and blocks <= train_blocks and not blocks & other_blocks
    assert pool.features.shape == (len(pool.lonlat), 128) and np.isfinite(pool.features).all()
    again = load_pretrain_pool(dataset, PretrainPoolConfig(400), "small_cnn")
    assert again.key == pool.key and np.array_equal(again.lonlat, pool.lonlat) and np.array_equal(again.features, pool.features)


def test_location_overrides_apply_on_top_of_the_default_encoder():
    from core.train.config import load_config

    config = load_config(None, ["location.network=fcnet"])
    assert config.location["encoding"] == RunConfig().location["encoding"] and config.location["network"] == "fcnet"
    assert config.location_config().embedding == RunConfig().location_config().embedding
    assert load_config(None, ["location.encoding=sphereM+"]).location["network"] == "fcnet"


def test_the_sweep_gives_each_encoding_its_own_default_network():
    from core.workflows.sweep import SweepPlan, stage_config

    config = stage_config(RunConfig(), SweepPlan(), "pretrain", "theory", 0, 0.05)
    assert config.location["encoding"] == "theory" and config.location["network"] == "fcnet"
    assert config.location_config().embedding == RunConfig().location_config().embedding

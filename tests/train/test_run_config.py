"""Run configs: strict YAML round trip, errors that name the key, overrides, user datasets with options."""

import shutil

import pytest

from core.data.errors import DatasetError
from core.location.params import ConfigError
from core.train.config import DataConfig, RunConfig, load_config
from core.train.data import open_dataset
from tests.data.fixtures import FMOW_SITES, write_fmow_tree


def test_yaml_round_trip_keeps_everything():
    config = RunConfig.from_dict({"stage": "finetune", "epochs": 3, "location": {"encoding": "grid"}, "optim": {"lr": 0.01}})
    again = RunConfig.from_yaml(config.to_yaml())
    assert again == config
    assert again.location["encoding"] == "grid" and again.location["network"] == "fcnet"
    assert again.optim.lr == 0.01


@pytest.mark.parametrize(
    "values, key",
    [
        ({"epochz": 3}, "epochz"),
        ({"optim": {"learning_rate": 1}}, "optim.learning_rate"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
        ({"optim": {"lr": "fast"}}, "optim.lr"),
        ({"pretrain": {"negative_sampler": "ocean"}}, "pretrain.negative_sampler"),
        ({"stage": "train"}, "stage"),
        ({"batch_size": True}, "batch_size"),
        ({"location": {"encoding": "nope"}}, "encoding"),
        ({"finetune": {"label_ratio": 1.5}}, "finetune.label_ratio"),
        ({"data": {"crop_context": "wide"}}, "data.crop_context"),
        ({"data": {"crop_context": -1}}, "data.crop_context"),
    ],
)
def test_bad_config_names_the_key(values, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        RunConfig.from_dict(values)


def test_overrides_apply_dotted_keys(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("epochs: 2\npretrain:\n  simcse: 0.5\n")
    config = load_config(path, ["pretrain.simcse=0", "optim.schedule=constant", "location.encoding=sphereM+"])
    assert config.epochs == 2 and config.pretrain.simcse == 0.0
    assert config.optim.schedule == "constant" and config.location["encoding"] == "sphereM+"
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["epochs"])


def test_a_user_dataset_is_opened_with_its_loader_options_and_unknown_options_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_DATA_ROOT", str(tmp_path))
    write_fmow_tree(tmp_path / "fmow", "train")
    write_fmow_tree(tmp_path / "fmow", "val")
    shutil.rmtree(tmp_path / "fmow" / "val" / "zoo")  # val differs from train
    config = RunConfig.from_dict({"data": {"dataset": "fmow:fmow", "dataset_options": {"split": "val"}}})
    assert config.data.dataset_key == ("fmow:fmow", (("split", "val"),))
    assert RunConfig.from_dict(config.to_dict()).data == config.data, "the options survive the YAML round trip"
    val, train = open_dataset(config.data), open_dataset(DataConfig(dataset="fmow:fmow"))
    assert len(train) == sum(len(t) for *_, t in FMOW_SITES) and len(val) == len(train) - 1, "val has no zoo image"
    with pytest.raises(DatasetError, match="has no option colour; its options: split"):
        open_dataset(DataConfig(dataset="fmow:fmow", dataset_options={"colour": "red"}))
    with pytest.raises(ValueError, match="default dataset takes no options"):
        open_dataset(DataConfig(dataset_options={"split": "val"}))


def test_loader_options_are_text_even_when_they_look_like_numbers(tmp_path):
    # `--set data.dataset_options.ground_truth=2018` (a folder named 2018) reached the loader as the
    # number 2018 and crashed it with a TypeError traceback.
    config = load_config(None, ["data.dataset=fmow:fmow", "data.dataset_options.ground_truth=2018", "epochs=2"])
    assert config.data.dataset_options == {"ground_truth": "2018"} and config.epochs == 2
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  dataset: fmow:fmow\n  dataset_options:\n    ground_truth: 2018\n")
    with pytest.raises(ConfigError, match=r"data\.dataset_options\.ground_truth: expected text, got 2018"):
        load_config(path)

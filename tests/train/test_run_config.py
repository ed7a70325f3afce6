"""Run configs: strict YAML round trip, errors that name the key, overrides."""

import pytest

from core.location.params import ConfigError
from core.train.config import RunConfig, load_config


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

"""The starter runs setup builds for the app's first open: trained once, skipped when up to date, resumed after a
kill, retrained when their config changes; on tiny real data (a small default dataset, small-CNN features)."""

import pytest
import yaml

from core.__main__ import main
from core.workflows.starter import STARTER_STAGES, build_starters, starter_plan
from core.train import runner
from core.train.records import read_run
from tests.workflows.test_predict import tiny_feature_data

#: The tiny budget of these tests, as ``--set`` overrides (applied after the starter budget).
TINY_SET = (
    "epochs=2",
    "batch_size=64",
    "data.image_encoder=small_cnn",
    "location={encoding: theory, encoding_params: {num_scales: 4}, network_params: {hidden_dim: 32}}",
)
NAMES = [stage.name for stage in STARTER_STAGES]


@pytest.fixture
def tiny_data(tmp_path_factory, monkeypatch):
    """Runs load the tiny data (built once per session) instead of the full default dataset."""
    _, data = tiny_feature_data(tmp_path_factory.getbasetemp() / "starter-tiny-data")
    monkeypatch.setattr(runner, "load_feature_data", lambda config, progress=None: data)
    return data


def actions(done) -> dict[str, str]:
    return {run.spec.name: action for run, action in done}


def finished_times(root) -> list[float]:
    return [read_run(root / name).finished_at for name in NAMES]


def test_a_second_build_skips_the_finished_runs(tmp_path, tiny_data):
    assert actions(build_starters(tmp_path, TINY_SET)) == dict.fromkeys(NAMES, "train")
    records = [read_run(tmp_path / name) for name in NAMES]
    assert [r.stage for r in records] == ["pretrain", "finetune", "image_classifier"]
    assert all(r.status in ("completed", "early_stopped") and r.has_checkpoint() for r in records)
    assert records[1].config["finetune"]["init_from"] == str((tmp_path / "starter-pretrain").resolve())
    before = finished_times(tmp_path)

    assert actions(build_starters(tmp_path, TINY_SET)) == dict.fromkeys(NAMES, "skip")
    assert finished_times(tmp_path) == before, "nothing was retrained"


def saved_config_with(run_dir, key: str, value) -> None:
    """Rewrite a run's saved config.yaml with one top-level value changed (a run of another recipe)."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config[key] = value
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def test_a_run_of_another_config_is_retrained_and_so_is_the_run_that_starts_from_it(tmp_path, tiny_data):
    build_starters(tmp_path, TINY_SET)
    saved_config_with(tmp_path / "starter-image-classifier", "seed", 7)
    assert actions(build_starters(tmp_path, TINY_SET)) == {**dict.fromkeys(NAMES[:2], "skip"), NAMES[2]: "train"}
    assert read_run(tmp_path / "starter-image-classifier").config["seed"] == 0

    saved_config_with(tmp_path / "starter-pretrain", "seed", 7)
    assert actions(build_starters(tmp_path, TINY_SET)) == {**dict.fromkeys(NAMES[:2], "train"), NAMES[2]: "skip"}


def test_a_failed_run_is_trained_again(tmp_path, tiny_data):
    build_starters(tmp_path, TINY_SET)
    metrics = tmp_path / "starter-image-classifier" / "metrics.json"
    metrics.write_text('{"status": "failed", "stage": "image_classifier"}')
    assert actions(build_starters(tmp_path, TINY_SET)) == {**dict.fromkeys(NAMES[:2], "skip"), NAMES[2]: "train"}
    assert read_run(tmp_path / NAMES[2]).status in ("completed", "early_stopped")


class Killed(Exception):
    """Stands for the process being killed after an epoch's checkpoint was written."""


def test_a_killed_build_resumes_from_the_last_checkpoint_to_the_same_result(tmp_path, tiny_data):
    def kill_after_first_epoch(run, info):
        if info.epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        build_starters(tmp_path / "killed", TINY_SET, on_epoch=kill_after_first_epoch)
    assert read_run(tmp_path / "killed" / "starter-pretrain") is None, "a killed run has no metrics yet"

    epochs: list[tuple[str, int]] = []
    done = build_starters(tmp_path / "killed", TINY_SET, on_epoch=lambda run, info: epochs.append((run.spec.name, info.epoch)))
    assert actions(done) == {NAMES[0]: "resume", **dict.fromkeys(NAMES[1:], "train")}
    assert epochs[0] == ("starter-pretrain", 2), "the pre-training went on from epoch 2"

    build_starters(tmp_path / "straight", TINY_SET)
    for name in NAMES:
        resumed, straight = (read_run(tmp_path / root / name).metrics for root in ("killed", "straight"))
        keys = [k for k in straight if k.startswith("test_")]
        assert keys and {k: resumed[k] for k in keys} == pytest.approx({k: straight[k] for k in keys}), name


def test_the_plan_is_the_library_defaults():
    plan = starter_plan(overrides=())
    assert [run.config.stage for run in plan] == ["pretrain", "finetune", "image_classifier"]
    from core.train.config import load_config

    defaults = load_config(None, ["stage=pretrain"]).to_dict()
    pretrain = plan[0].config.to_dict()
    assert pretrain == defaults, "the starter pre-training is the default recipe the probe benchmark measures"
    assert plan[1].config.location == plan[0].config.location, "fine-tuning can start from the pre-trained encoder"


def test_the_command_line_builds_then_skips_and_refuses_a_bad_setting_with_a_message(tmp_path, tiny_data, capsys):
    tiny = [arg for value in TINY_SET for arg in ("--set", value)]
    assert main(["starter", "--runs", str(tmp_path), *tiny]) == 0
    first = capsys.readouterr()
    assert all(f"{name}: training" in first.out for name in NAMES) and "starter runs ready" in first.out
    assert "starter-pretrain: 100%" in first.err, "a progress bar per run"

    assert main(["starter", "--runs", str(tmp_path), *tiny]) == 0
    second = capsys.readouterr().out
    assert all(f"{name}: up to date, skipped" in second for name in NAMES)

    assert main(["starter", "--runs", str(tmp_path / "other"), "--set", "optim.lr=-1"]) == 2
    assert "optim.lr" in capsys.readouterr().err and not (tmp_path / "other").exists()

"""The real trainer on small real data: learning, checkpoints, resume, stop, NaN, fine-tuning."""

import threading

import pytest
import torch
from safetensors.torch import load_file

from core.location.params import ConfigError
from core.train.checkpoint import CheckpointError, load_checkpoint
from core.train.config import RunConfig
from core.train.loop import TrainingDiverged
from core.train.runner import build_task, run

FAST_LOCATION = {"encoding": "theory", "encoding_params": {"num_scales": 8}, "network_params": {"hidden_dim": 64}}


def config(**overrides) -> RunConfig:
    values = {"epochs": 4, "batch_size": 128, "location": FAST_LOCATION, "data": {"image_encoder": "small_cnn"}}
    values.update(overrides)
    return RunConfig.from_dict(values)


def test_pretraining_learns_and_writes_a_complete_run(small_data, runs):
    steps, epochs = [], []
    summary = run(config(), data=small_data, on_step=steps.append, on_epoch=epochs.append)
    history = summary.fit.history
    assert summary.status == "completed" and len(history) == 4
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert set(steps[0].parts) == {"in_batch", "negative_location", "simcse"}
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    chunk = min(128, int((small_data.splits == "test").sum()))
    assert history[-1]["val_loss"] < history[0]["val_loss"], "held-out contrastive loss must improve"
    assert summary.test_metrics["test_retrieval_top1"] > 1.5 / chunk, "retrieval must beat chance"
    for name in ("config.yaml", "history.csv", "steps.csv", "metrics.json", "run_card.md"):
        assert (summary.run_dir / name).is_file()
    card = (summary.run_dir / "run_card.md").read_text()
    assert small_data.fingerprint in card and "torch" in card


@pytest.mark.parametrize("objective", ["nce", "mse", "clip"])
def test_single_term_objectives_train(small_data, runs, objective):
    summary = run(config(epochs=2, pretrain={"objective": objective}), data=small_data)
    assert summary.status == "completed"
    assert all(torch.isfinite(torch.tensor(row["train_loss"])) for row in summary.fit.history)


def test_resume_after_an_interruption_reproduces_the_uninterrupted_run_byte_for_byte(small_data, runs):
    straight = run(config(), data=small_data)

    stop = threading.Event()
    interrupted_dir = runs / "interrupted"
    stop_at = 2 * steps_per_epoch(small_data) + 2  # a few steps into epoch 3
    first = run(config(), interrupted_dir, data=small_data, stop=stop, on_step=lambda s: stop.set() if s.step == stop_at else None)
    assert first.status == "stopped" and len(first.fit.history) == 2
    kill_while_saving_epoch_3(interrupted_dir / "checkpoints")
    epochs = []
    resumed = run(config(), interrupted_dir, data=small_data, resume=True, on_epoch=lambda e: epochs.append(e.epoch))

    assert resumed.status == "completed" and len(resumed.fit.history) == 4 and epochs == [3, 4]
    for name in ("history.csv", "steps.csv"):
        assert (straight.run_dir / name).read_bytes() == (interrupted_dir / name).read_bytes(), name
    assert straight.test_metrics == resumed.test_metrics
    for checkpoint in ("last", "best"):
        weights_a = load_file(str(straight.run_dir / "checkpoints" / checkpoint / "model.safetensors"))
        weights_b = load_file(str(interrupted_dir / "checkpoints" / checkpoint / "model.safetensors"))
        assert weights_a.keys() == weights_b.keys() and all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)

    with pytest.raises(CheckpointError, match="epochs"):
        run(config(epochs=5), interrupted_dir, data=small_data, resume=True)


def kill_while_saving_epoch_3(checkpoints):
    """What a kill -9 while saving epoch 3 can leave: step-log rows past the last checkpoint (the last
    one torn), a new checkpoint folder half written, and the last checkpoint moved aside to swap it in."""
    log = checkpoints / "steps.jsonl"
    rows = log.read_text().splitlines(keepends=True)
    log.write_text("".join(rows + rows[:3])[:-10])
    (checkpoints / ".last.new").mkdir()
    (checkpoints / ".last.new" / "model.safetensors").write_bytes(b"half")
    (checkpoints / "last").rename(checkpoints / ".last.old")


def steps_per_epoch(data) -> int:
    return -(-int((data.splits == "train").sum()) // 128)


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(small_data, runs, monkeypatch):
    from core.train import tasks

    calls = {"n": 0}
    original = tasks.PretrainTask.training_loss

    def poisoned(self, model, batch, generator):
        calls["n"] += 1
        output = original(self, model, batch, generator)
        if calls["n"] > steps_per_epoch(small_data):
            output.total = output.total * float("nan")
        return output

    monkeypatch.setattr(tasks.PretrainTask, "training_loss", poisoned)
    run_dir = runs / "nan"
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 2"):
        run(config(), run_dir, data=small_data)
    task = build_task(config(), small_data)
    state = load_checkpoint(run_dir / "checkpoints/last", task.model, None)
    assert state["epoch"] == 1
    assert all(torch.isfinite(p).all() for p in task.model.parameters())


def test_finetuning_from_csp_loads_the_pretrained_encoder(small_data, runs):
    pretrained = run(config(epochs=2), data=small_data)
    finetune = config(stage="finetune", epochs=2, finetune={"init_from": str(pretrained.run_dir), "label_ratio": 0.2})
    task = build_task(finetune, small_data)
    saved = load_file(str(pretrained.run_dir / "checkpoints/best/model.safetensors"))
    for name, value in task.model.location.state_dict().items():
        assert torch.equal(value, saved[f"location.{name}"])
    summary = run(finetune, data=small_data)
    assert summary.status == "completed"
    assert 0.0 < summary.test_metrics["test_top1"] <= 1.0
    assert {"test_top3", "test_mrr", "test_per_class_accuracy", "test_ece"} <= set(summary.test_metrics)

    other_encoder = config(stage="finetune", location={"encoding": "grid"}, finetune={"init_from": str(pretrained.run_dir)})
    with pytest.raises(CheckpointError, match="location.encoding"):
        build_task(other_encoder, small_data)
    not_ours = runs / "not-ours" / "checkpoints" / "best"
    not_ours.mkdir(parents=True)
    (not_ours / "config.json").write_text('{"stage": "pretrain", "location": %s}' % __import__("json").dumps(finetune.location))
    (not_ours / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        build_task(config(stage="finetune", finetune={"init_from": str(runs / "not-ours")}), small_data)


def test_presence_only_and_image_classifier_stages(small_data, runs):
    presence = run(config(stage="finetune", epochs=2, finetune={"loss": "presence_only", "label_ratio": 0.5}), data=small_data)
    assert set(presence.fit.steps[0]) >= {"presence", "background"}
    image = run(config(stage="image_classifier", epochs=3, finetune={"label_ratio": 0.5}), data=small_data)
    assert image.test_metrics["test_top1"] > 0.2
    with pytest.raises(ConfigError, match="presence"):
        RunConfig.from_dict({"finetune": {"loss": "presence"}})

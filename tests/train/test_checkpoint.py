"""Resuming from a damaged checkpoint: every file, damaged in every way, is a CheckpointError that names
it, and the checkpoint is left exactly as it was."""

import json
import shutil
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from core.train.checkpoint import CheckpointError
from core.train.config import RunConfig
from core.train.runner import run


def config() -> RunConfig:
    location = {"encoding": "theory", "encoding_params": {"num_scales": 4}, "network_params": {"hidden_dim": 32}}
    return RunConfig.from_dict({"epochs": 2, "batch_size": 256, "location": location, "data": {"image_encoder": "small_cnn"}})


@pytest.fixture(scope="module")
def interrupted(small_data, tmp_path_factory) -> Path:
    """A run stopped after its first of two epochs."""
    run_dir = tmp_path_factory.mktemp("interrupted") / "run"
    stop = threading.Event()
    summary = run(config(), run_dir, data=small_data, stop=stop, on_epoch=lambda e: stop.set())
    assert summary.status == "stopped"
    return run_dir


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 8)


def remove(path: Path) -> None:
    path.unlink()


def rename_a_tensor(path: Path) -> None:
    tensors = load_file(str(path))
    key = sorted(tensors)[0]
    tensors[f"{key}_renamed"] = tensors.pop(key)
    save_file(tensors, str(path))


def reshape_a_tensor(path: Path) -> None:
    tensors = load_file(str(path))
    key = sorted(tensors)[0]
    tensors[key] = torch.zeros(tensors[key].numel() + 1)
    save_file(tensors, str(path))


def edit_json(edit):
    def damage(path: Path) -> None:
        value = json.loads(path.read_text())
        edit(value)
        path.write_text(json.dumps(value))

    damage.__name__ = edit.__name__
    return damage


def drop_the_first_key(value: dict) -> None:
    value.pop(next(iter(value)))


def retype_the_first_value(value: dict) -> None:
    value[next(iter(value))] = "?"


def drop_the_optimizer_groups(value: dict) -> None:
    value["optimizer"]["param_groups"] = []


def lists_for_rows(path: Path) -> None:
    path.write_text("[]\n" * len(path.read_text().splitlines()))


FILES = ("model.safetensors", "optimizer.safetensors", "trainer.json", "config.json", "steps.jsonl")
CASES = [(name, damage, name) for name in FILES for damage in (truncate, empty, garbage, remove)] + [
    ("model.safetensors", rename_a_tensor, "model.safetensors"),
    ("model.safetensors", reshape_a_tensor, "model.safetensors"),
    ("optimizer.safetensors", rename_a_tensor, "optimizer.safetensors"),
    ("optimizer.safetensors", reshape_a_tensor, "optimizer.safetensors"),
    ("trainer.json", edit_json(drop_the_first_key), "trainer.json"),
    ("trainer.json", edit_json(retype_the_first_value), "trainer.json"),
    ("trainer.json", edit_json(drop_the_optimizer_groups), "trainer.json"),
    ("config.json", edit_json(drop_the_first_key), "the config differs"),
    ("config.json", edit_json(retype_the_first_value), "the config differs"),
    ("steps.jsonl", lists_for_rows, "steps.jsonl"),
]


def files_under(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("name, damage, message", CASES, ids=[f"{name}-{damage.__name__}" for name, damage, _ in CASES])
def test_a_damaged_checkpoint_file_is_refused_by_name_and_left_as_it_was(interrupted, small_data, tmp_path, name, damage, message):
    run_dir = tmp_path / "run"
    shutil.copytree(interrupted, run_dir)
    checkpoints = run_dir / "checkpoints"
    damage(checkpoints / name if name == "steps.jsonl" else checkpoints / "last" / name)
    before = files_under(checkpoints)

    with pytest.raises(CheckpointError, match=message.replace(".", r"\.")):
        run(config(), run_dir, data=small_data, resume=True)
    assert files_under(checkpoints) == before


def test_the_undamaged_checkpoint_resumes(interrupted, small_data, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(interrupted, run_dir)
    summary = run(config(), run_dir, data=small_data, resume=True)
    assert summary.status == "completed" and [row["epoch"] for row in summary.fit.history] == [1, 2]

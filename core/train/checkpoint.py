"""Checkpoints: safetensors for every tensor, JSON for everything else, written atomically.

A checkpoint directory holds ``model.safetensors``, ``optimizer.safetensors`` (flattened optimiser
state), ``trainer.json`` (epoch, history, RNG states, optimiser hyper-parameters) and
``config.json``. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from core.files import atomic_path, atomic_write_json

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TRAINER_FILE = "trainer.json"
CONFIG_FILE = "config.json"


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, not ours, or made for a different model."""


def _atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as temporary:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(temporary))


def save_checkpoint(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, trainer_state: dict, config: dict
) -> None:
    """Save everything needed to resume; each file is replaced atomically, the trainer state last."""
    directory = Path(directory)
    _atomic_save_tensors(directory / MODEL_FILE, model.state_dict())
    optimizer_json = None
    if optimizer is not None:
        tensors, optimizer_json = _flatten_optimizer(optimizer.state_dict())
        _atomic_save_tensors(directory / OPTIMIZER_FILE, tensors)
    atomic_write_json(directory / CONFIG_FILE, config)
    atomic_write_json(directory / TRAINER_FILE, {**trainer_state, "optimizer": optimizer_json})


def read_checkpoint_config(directory: Path) -> dict:
    """The config a checkpoint was saved with; CheckpointError when there is none."""
    try:
        return json.loads((Path(directory) / CONFIG_FILE).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: not a GeoCSP checkpoint ({CONFIG_FILE} missing)") from None
    except ValueError as error:
        raise CheckpointError(f"{directory / CONFIG_FILE}: unreadable ({error})") from None


def load_model_weights(directory: Path, model: nn.Module) -> None:
    """Load ``model.safetensors`` into ``model``, refusing mismatched keys or shapes by name."""
    path = Path(directory) / MODEL_FILE
    try:
        state = load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: no {MODEL_FILE}") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong_shape:
        details = []
        if missing:
            details.append(f"missing {missing[:5]}")
        if unexpected:
            details.append(f"unexpected {unexpected[:5]}")
        if wrong_shape:
            key = wrong_shape[0]
            details.append(f"{key} has shape {tuple(state[key].shape)}, the model expects {tuple(expected[key].shape)}")
        raise CheckpointError(f"{path}: weights do not fit this model: " + "; ".join(details))
    model.load_state_dict(state)


def load_checkpoint(directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict:
    """Restore model (and optimiser) in place; return the saved trainer state."""
    directory = Path(directory)
    try:
        trainer_state = json.loads((directory / TRAINER_FILE).read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{directory}: no readable {TRAINER_FILE} ({error})") from None
    load_model_weights(directory, model)
    if optimizer is not None and trainer_state.get("optimizer") is not None:
        tensors = load_file(str(directory / OPTIMIZER_FILE))
        optimizer.load_state_dict(_unflatten_optimizer(tensors, trainer_state["optimizer"]))
    return trainer_state


def _flatten_optimizer(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, entries in state_dict["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{name}"] = value
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], layout: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in layout["scalars"].items():
        state.setdefault(int(param_id), {}).update(entries)
    return {"state": state, "param_groups": layout["param_groups"]}

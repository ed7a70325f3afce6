"""Checkpoints: safetensors for every tensor, JSON for everything else, each swapped in whole.

A checkpoint directory holds ``model.safetensors``, ``optimizer.safetensors`` (flattened optimiser
state), ``trainer.json`` (the trainer's state, torch's RNG state and the optimiser's layout) and
``config.json``. :func:`replace_checkpoint` writes a new checkpoint beside the old one and swaps the two
directories, so a process killed at any moment leaves one complete checkpoint (:func:`recover_checkpoint`
puts the old one back when the kill fell between the two renames). Beside the checkpoints, an
append-only step log holds the per-step rows of every finished epoch. Every file that is missing,
damaged or made for another model is a :class:`CheckpointError` naming it. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from core.files import atomic_path, atomic_write_bytes, atomic_write_json
from core.location.networks import legacy_layout_hint

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TRAINER_FILE = "trainer.json"
CONFIG_FILE = "config.json"
STEPS_FILE = "steps.jsonl"
"""The step log, one JSON object a line, in the folder that holds the checkpoints."""


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, not ours, or made for a different model."""


def _atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as temporary:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(temporary))


def save_checkpoint(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, trainer_state: dict, config: dict
) -> None:
    """Save everything needed to resume, with torch's RNG state, into ``directory`` (trainer state last).

    The trainer state keeps its key order (the columns of the history rows it holds)."""
    directory = Path(directory)
    _atomic_save_tensors(directory / MODEL_FILE, model.state_dict())
    optimizer_layout = None
    if optimizer is not None:
        tensors, optimizer_layout = _flatten_optimizer(optimizer.state_dict())
        _atomic_save_tensors(directory / OPTIMIZER_FILE, tensors)
    atomic_write_json(directory / CONFIG_FILE, config)
    rng = torch.get_rng_state().numpy().tobytes().hex()
    atomic_write_json(
        directory / TRAINER_FILE, {**trainer_state, "torch_rng": rng, "optimizer": optimizer_layout}, sort_keys=False
    )


def replace_checkpoint(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, trainer_state: dict, config: dict
) -> None:
    """:func:`save_checkpoint` into a folder beside ``directory``, then swap it in for the old one."""
    directory = Path(directory)
    staging, previous = _swap_folders(directory)
    recover_checkpoint(directory)
    shutil.rmtree(staging, ignore_errors=True)
    save_checkpoint(staging, model, optimizer, trainer_state, config)
    shutil.rmtree(previous, ignore_errors=True)
    if directory.exists():
        directory.rename(previous)
    staging.rename(directory)
    shutil.rmtree(previous, ignore_errors=True)


def recover_checkpoint(directory: Path) -> bool:
    """Put the previous checkpoint back when a kill interrupted its replacement; whether one is there."""
    directory = Path(directory)
    _, previous = _swap_folders(directory)
    if not directory.exists() and previous.exists():
        try:
            previous.rename(directory)
        except FileNotFoundError:  # another rank of the same run put it back first
            pass
    return directory.exists()


def _swap_folders(directory: Path) -> tuple[Path, Path]:
    """(staging folder of the new checkpoint, where the old one waits during the swap)."""
    return directory.with_name(f".{directory.name}.new"), directory.with_name(f".{directory.name}.old")


def read_checkpoint_config(directory: Path) -> dict:
    """The config a checkpoint was saved with; CheckpointError when there is none."""
    path = Path(directory) / CONFIG_FILE
    if not path.exists():
        raise CheckpointError(f"{directory}: not a GeoCSP checkpoint ({CONFIG_FILE} missing)")
    return _read_json_object(path)


def _read_json_object(path: Path) -> dict:
    """The JSON object in ``path``; CheckpointError when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent}: no {path.name}") from None
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable ({error})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: holds a JSON {type(value).__name__}, not an object")
    return value


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; CheckpointError when it is missing or unreadable."""
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent}: no {path.name}") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None


def _check_tensors(path: Path, found: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]], what: str) -> None:
    """Refuse ``found`` unless it has exactly the ``expected`` names and shapes, naming the first misfits."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong_shape = sorted(k for k in set(found) & set(expected) if tuple(found[k].shape) != tuple(expected[k]))
    details = []
    if missing:
        details.append(f"missing {missing[:5]}")
    if unexpected:
        details.append(f"unexpected {unexpected[:5]}")
    if wrong_shape:
        key = wrong_shape[0]
        details.append(f"{key} has shape {tuple(found[key].shape)}, {what} expects {tuple(expected[key])}")
    hint = legacy_layout_hint(missing) if not unexpected and not wrong_shape else None
    if hint:
        raise CheckpointError(f"{path}: tensors do not fit {what}: {hint}")
    if details:
        raise CheckpointError(f"{path}: tensors do not fit {what}: " + "; ".join(details))


def load_model_weights(directory: Path, model: nn.Module) -> None:
    """Load ``model.safetensors`` into ``model``, refusing mismatched keys or shapes by name."""
    path = Path(directory) / MODEL_FILE
    state = read_tensors(path)
    _check_tensors(path, state, {k: tuple(v.shape) for k, v in model.state_dict().items()}, "this model")
    model.load_state_dict(state)


def load_checkpoint(directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict:
    """Restore model (and optimiser) in place; return the saved trainer state, with ``torch_rng`` as the
    RNG state tensor to pass to ``torch.set_rng_state``."""
    directory = Path(directory)
    path = directory / TRAINER_FILE
    trainer_state = _read_json_object(path)
    trainer_state["torch_rng"] = _rng_state(path, trainer_state.get("torch_rng"))
    load_model_weights(directory, model)
    if optimizer is not None:
        layout = trainer_state.get("optimizer")
        if not isinstance(layout, dict) or "tensors" not in layout:
            raise CheckpointError(f"{path}: holds no optimiser layout to resume from (saved by an older version?)")
        _load_optimizer(directory, optimizer, layout)
    return trainer_state


def _rng_state(path: Path, text: Any) -> torch.Tensor:
    expected = torch.get_rng_state().numel()
    try:
        state = bytes.fromhex(text)
    except (TypeError, ValueError):
        state = b""
    if len(state) != expected:
        raise CheckpointError(f"{path}: torch_rng is not a saved RNG state ({expected} hex-encoded bytes)")
    return torch.frombuffer(bytearray(state), dtype=torch.uint8)


def _load_optimizer(directory: Path, optimizer: torch.optim.Optimizer, layout: dict) -> None:
    """Load ``optimizer.safetensors`` as ``trainer.json`` lays it out, refusing state that does not fit."""
    path = directory / OPTIMIZER_FILE
    tensors = read_tensors(path)
    try:
        expected = {key: tuple(shape) for key, shape in layout["tensors"].items()}
        _check_tensors(path, tensors, expected, f"the optimiser layout in {TRAINER_FILE}")
        state = _unflatten_optimizer(tensors, layout)
        _check_parameter_shapes(path, state["state"], [p for group in optimizer.param_groups for p in group["params"]])
        optimizer.load_state_dict(state)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise CheckpointError(f"{directory / TRAINER_FILE}: the optimiser state does not fit this model ({error!r})") from None


def _check_parameter_shapes(path: Path, state: dict[int, dict[str, Any]], params: list[torch.Tensor]) -> None:
    """Refuse per-parameter state tensors (other than scalars such as ``step``) shaped unlike their parameter."""
    for param_id, entries in state.items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != params[param_id].shape:
                raise CheckpointError(
                    f"{path}: {param_id}.{name} has shape {tuple(value.shape)}, its parameter {tuple(params[param_id].shape)}"
                )


def _flatten_optimizer(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, entries in state_dict["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{name}"] = value
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    layout = {
        "param_groups": state_dict["param_groups"],
        "scalars": scalars,
        "tensors": {key: list(value.shape) for key, value in tensors.items()},
    }
    return tensors, layout


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], layout: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in layout["scalars"].items():
        state.setdefault(int(param_id), {}).update(entries)
    return {"state": state, "param_groups": layout["param_groups"]}


def clear_steps(path: Path) -> None:
    """Remove the step log at ``path`` (a run that starts afresh)."""
    path.unlink(missing_ok=True)


def append_steps(path: Path, rows: list[dict[str, float]]) -> None:
    """Append per-step rows to the step log at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)


def resume_steps(path: Path, count: int) -> list[dict[str, float]]:
    """The first ``count`` rows of the step log, which is cut back to them: rows after the checkpoint's
    last step belong to an epoch that a kill interrupted, and that the resumed run repeats."""
    try:
        lines = [line for line in path.read_text().splitlines(keepends=True)[:count] if line.endswith("\n")]
        rows = [row for row in map(json.loads, lines) if isinstance(row, dict)]
    except FileNotFoundError:
        lines, rows = [], []
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable step log ({error})") from None
    if len(rows) != count:
        raise CheckpointError(f"{path}: the step log holds {len(rows)} of the {count} steps the checkpoint has done")
    atomic_write_bytes(path, "".join(lines).encode())
    return rows

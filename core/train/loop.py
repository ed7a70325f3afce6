"""One training loop for every stage: pre-training, fine-tuning, image classifiers, MoCo.

A :class:`Task` supplies the model, the batches of an epoch, the loss of a batch and validation
metrics; :func:`fit` does the rest: seeded, deterministic epoch order, AdamW/Adam with a warm-up +
cosine schedule, gradient clipping, early stopping on the monitored validation metric, per-step and
per-epoch callbacks, a stop flag checked between steps, an atomic checkpoint after every epoch and
``resume=True`` that continues a killed run to the same result. The model trains on ``train.device`` (see
:mod:`core.train.device`). Under ``torch.distributed`` (gloo,
launched by ``torchrun``) the model is wrapped in DDP and every rank trains on its shard of
each global batch; only rank 0 writes files and calls callbacks.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn

from core.objectives import LossOutput
from core.train.checkpoint import (
    STEPS_FILE,
    TRAINER_FILE,
    CheckpointError,
    append_steps,
    clear_steps,
    load_checkpoint,
    read_checkpoint_config,
    recover_checkpoint,
    replace_checkpoint,
    resume_steps,
)
from core.location.params import ConfigError
from core.train.config import RunConfig
from core.train.device import resolve_device
from core.ranks import peer_watch, sync_ranks
from core.train.faults import fault_point
from core.train.precision import MixedPrecision
from core.train.records import BEST, LAST



class Task(Protocol):
    """What a stage provides to :func:`fit`."""

    model: nn.Module
    monitor: str  # validation metric that drives early stopping and the best checkpoint
    monitor_mode: str  # "min" or "max"

    def train_batches(self, epoch: int, generator: torch.Generator, rank: int, world_size: int) -> Iterable[Any]:
        """This rank's batches for ``epoch``, in an order drawn from ``generator``."""

    def training_loss(self, model: nn.Module, batch: Any, generator: torch.Generator) -> LossOutput:
        """The loss of one batch, computed through ``model``'s forward (``task.model`` or its DDP
        wrapper, so gradients all-reduce across ranks); the model is in training mode."""

    def validate(self) -> dict[str, float]:
        """Validation metrics (the model is in eval mode, no gradients)."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left intact."""


@dataclass
class StepInfo:
    """Reported after every optimiser step."""

    epoch: int
    step: int
    loss: float
    parts: dict[str, float]
    lr: float


@dataclass
class EpochInfo:
    """Reported after every epoch's validation."""

    epoch: int
    epochs: int
    metrics: dict[str, float]
    improved: bool
    seconds: float


@dataclass
class FitResult:
    """How a run ended and what it measured."""

    status: str  # "completed", "early_stopped" or "stopped"
    history: list[dict[str, float]]
    best_epoch: int
    best_metrics: dict[str, float]
    wall_seconds: float
    steps: list[dict[str, float]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None  # weights of the best epoch (this process's epochs)
    device: str = "cpu"  # where it trained


def seed_everything(seed: int) -> None:
    """Seed torch's global generator (model initialisation, dropout)."""
    torch.manual_seed(seed)


def build_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """AdamW or Adam over the trainable parameters, as one fused kernel per parameter (a third of the
    per-tensor loop's time on the CPU)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    kind = torch.optim.AdamW if config.optim.optimizer == "adamw" else torch.optim.Adam
    return kind(params, lr=config.optim.lr, weight_decay=config.optim.weight_decay, fused=True)


def learning_rate_factor(epoch: int, config: RunConfig) -> float:
    """Linear warm-up over ``warmup_epochs``, then cosine decay to 5 % (or constant)."""
    warmup = config.optim.warmup_epochs
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    if config.optim.schedule == "constant":
        return 1.0
    progress = (epoch - warmup) / max(1, config.epochs - warmup)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))


def fit(
    task: Task,
    config: RunConfig,
    run_dir: Path | None,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    on_epoch: Callable[[EpochInfo], None] | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
) -> FitResult:
    """Train ``task.model`` as configured; see the module docstring."""
    started = time.perf_counter()
    rank, world_size = _distributed_rank()
    is_main = rank == 0
    device = resolve_device(config.train.device)
    model = task.model.to(device)
    trained = _distributed(model, device) if world_size > 1 else model
    optimizer = build_optimizer(model, config)
    precision = MixedPrecision(config.train.precision, device.type)
    checkpoints = Path(run_dir) / "checkpoints" if run_dir is not None else None

    state: dict[str, Any] = {"epoch": 0, "history": [], "best_epoch": -1, "best_metrics": {}, "bad_epochs": 0}
    steps: list[dict[str, float]] = []
    if checkpoints is not None and resume and recover_checkpoint(checkpoints / LAST):
        recover_checkpoint(checkpoints / BEST)
        state = _resume(checkpoints / LAST, model, optimizer, config)
        if is_main:
            steps = resume_steps(checkpoints / STEPS_FILE, _steps_done(state))
    elif checkpoints is not None and is_main:
        clear_steps(checkpoints / STEPS_FILE)
    step = _steps_done(state)
    status = "completed"
    best_state = None

    for epoch in range(state["epoch"], config.epochs):
        epoch_started = time.perf_counter()
        epoch_steps_from = len(steps)
        for group in optimizer.param_groups:
            group["lr"] = config.optim.lr * learning_rate_factor(epoch, config)
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        model.train()
        totals: dict[str, float] = {}
        n_batches = 0
        for batch in task.train_batches(epoch, generator, rank, world_size):
            if stop is not None and stop.is_set():
                status = "stopped"
                break
            fault_point(rank, epoch + 1, n_batches)
            with peer_watch(f"exchanging gradients at epoch {epoch + 1}, step {step + 1}"):
                with precision.autocast():
                    output = task.training_loss(trained, batch, generator)
                if not torch.isfinite(output.total):
                    raise TrainingDiverged(
                        f"loss became {float(output.total.detach())} at epoch {epoch + 1}, step {step + 1} "
                        f"(parts: {output.parts}); lower the learning rate or raise the temperatures. "
                        "The last good checkpoint is intact."
                    )
                optimizer.zero_grad(set_to_none=True)
                precision.step(output.total, optimizer, model, config.optim.grad_clip)
            step += 1
            n_batches += 1
            loss = float(output.total.detach())
            for name, value in {"loss": loss, **output.parts}.items():
                totals[name] = totals.get(name, 0.0) + value
            if is_main:
                lr = optimizer.param_groups[0]["lr"]
                steps.append({"epoch": epoch + 1, "step": step, "loss": loss, **output.parts})
                if on_step is not None:
                    on_step(StepInfo(epoch + 1, step, loss, dict(output.parts), lr))
        if status == "stopped":
            break

        model.eval()
        with torch.no_grad():
            metrics = task.validate()
        row = {"epoch": epoch + 1, "steps": n_batches, **{f"train_{k}": v / max(1, n_batches) for k, v in totals.items()}}
        row.update(metrics)
        state["history"].append(row)
        improved = _improved(metrics[task.monitor], state["best_metrics"].get(task.monitor), task.monitor_mode)
        if improved:
            state.update(best_epoch=epoch + 1, best_metrics=dict(metrics), bad_epochs=0)
            best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        if is_main and checkpoints is not None:
            _save_epoch(checkpoints, model, optimizer, state, config, improved, steps[epoch_steps_from:])
        fault_point(rank, epoch + 1, n_batches)
        sync_ranks(f"the end of epoch {epoch + 1}")  # no rank starts an epoch before its checkpoint is saved
        if is_main and on_epoch is not None:
            on_epoch(EpochInfo(epoch + 1, config.epochs, dict(metrics), improved, time.perf_counter() - epoch_started))
        if state["bad_epochs"] >= config.patience:
            status = "early_stopped"
            break

    return FitResult(
        status=status,
        history=state["history"],
        best_epoch=state["best_epoch"],
        best_metrics=state["best_metrics"],
        wall_seconds=time.perf_counter() - started,
        steps=steps,
        best_state=best_state,
        device=str(device),
    )


def _distributed(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` wrapped in DDP; on a GPU, bound to this rank's device."""
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def _improved(value: float, best: float | None, mode: str) -> bool:
    if best is None:
        return True
    return value < best if mode == "min" else value > best


def _steps_done(state: dict) -> int:
    return sum(int(row.get("steps", 0)) for row in state["history"])


def _save_epoch(
    checkpoints: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict,
    config: RunConfig,
    improved: bool,
    epoch_steps: list[dict[str, float]],
) -> None:
    """Log the epoch's steps, then replace the best checkpoint (when improved) and the last one.

    In this order a kill at any point leaves a last checkpoint whose step count is a prefix of the log
    and a best checkpoint no older than the one its trainer state names."""
    append_steps(checkpoints / STEPS_FILE, epoch_steps)
    if improved:
        replace_checkpoint(checkpoints / BEST, model, None, state, config.to_dict())
    replace_checkpoint(checkpoints / LAST, model, optimizer, state, config.to_dict())


_STATE_FIELDS = {"epoch": int, "history": list, "best_epoch": int, "best_metrics": dict, "bad_epochs": int}


def checkpoint_run_config(directory: Path) -> dict:
    """The run config a checkpoint was saved with, keys added since then at their defaults (as saved when it no
    longer fits, so that a comparison names what differs)."""
    saved = read_checkpoint_config(directory)
    try:
        return RunConfig.from_dict(saved).to_dict()
    except ConfigError:
        return saved


def _resume(directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer, config: RunConfig) -> dict:
    differences = config_differences(checkpoint_run_config(directory), config.to_dict())
    if differences:
        raise CheckpointError(f"{directory}: cannot resume, the config differs: {'; '.join(differences[:5])}")
    state = load_checkpoint(directory, model, optimizer)
    wrong = [name for name, kind in _STATE_FIELDS.items() if not isinstance(state.get(name), kind)]
    if not wrong and (len(state["history"]) != state["epoch"] or not all(map(_is_metrics_row, state["history"]))):
        wrong = ["history"]
    if wrong:
        raise CheckpointError(f"{directory / TRAINER_FILE}: not a trainer state (bad or missing {', '.join(wrong)})")
    torch.set_rng_state(state.pop("torch_rng"))
    state.pop("optimizer", None)
    return state


def _is_metrics_row(row: Any) -> bool:
    return isinstance(row, dict) and all(isinstance(value, (int, float)) for value in row.values())


#: Keys that say where a run trains, not what it trains: a run may resume on another device.
PLACEMENT_KEYS = frozenset({"train.device"})


def config_differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """Human-readable list of the keys whose values differ between two config dicts (placement keys aside)."""
    differences = []
    for key in sorted(set(saved) | set(current)):
        if f"{prefix}{key}" in PLACEMENT_KEYS:
            continue
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            differences += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            differences.append(f"{prefix}{key}: checkpoint has {a!r}, this run has {b!r}")
    return differences


def _distributed_rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1

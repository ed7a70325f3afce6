"""Run a configured stage end to end: data → task → fit → test evaluation → run directory.

A run directory holds ``config.yaml``, ``checkpoints/{last,best}/``, ``history.csv`` (per epoch),
``steps.csv`` (per step), ``metrics.json`` (test and best validation metrics, status, wall time)
and ``run_card.md``.
"""

from __future__ import annotations

import csv
import platform
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from core.evaluate import classification_metrics, predict_logits
from core.files import atomic_write_json
from core.train.checkpoint import MODEL_FILE, CheckpointError, load_model_weights, read_checkpoint_config, read_tensors
from core.train.config import RunConfig
from core.train.data import FeatureData, load_feature_data
from core.train.device import resolve_device
from core.train.loop import EpochInfo, FitResult, StepInfo, config_differences, fit, seed_everything
from core.train.records import BEST, runs_root
from core.train.tasks import PretrainTask, image_classifier_task, location_classifier_task

Progress = Callable[[float, str], None]


def new_run_dir(stage: str, root: Path | None = None) -> Path:
    """A fresh, uniquely named run directory: ``<root>/<UTC time>-<stage>-<random>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    directory = Path(root or runs_root()) / f"{stamp}-{stage}-{secrets.token_hex(3)}"
    directory.mkdir(parents=True)
    return directory


@dataclass
class RunSummary:
    """What a finished run produced."""

    run_dir: Path
    status: str
    test_metrics: dict[str, float]
    best_val_metrics: dict[str, float]
    fit: FitResult


def build_task(config: RunConfig, data: FeatureData):
    """The stage's task, with pre-trained location weights loaded when ``finetune.init_from`` is set."""
    seed_everything(config.seed)
    if config.stage == "pretrain":
        return PretrainTask(config, data)
    if config.stage == "moco":
        from core.geossl.moco import MoCoTask

        return MoCoTask(config, data)
    if config.stage == "image_classifier":
        return image_classifier_task(config, data)
    encoder_state = pretrained_location_state(Path(config.finetune.init_from), config) if config.finetune.init_from else None
    return location_classifier_task(config, data, encoder_state)


def pretrained_location_state(run_dir: Path, config: RunConfig) -> dict[str, torch.Tensor]:
    """The location-encoder weights of a pre-training run, refused when made for another encoder."""
    checkpoint = run_dir / "checkpoints" / BEST
    saved = read_checkpoint_config(checkpoint)
    if saved.get("stage") != "pretrain":
        raise CheckpointError(f"{run_dir}: finetune.init_from must be a pre-training run, this one is {saved.get('stage')!r}")
    differences = config_differences(saved.get("location", {}), config.location, "location.")
    if differences:
        raise CheckpointError(f"{run_dir}: pre-trained with a different location encoder: {'; '.join(differences[:4])}")
    weights = read_tensors(checkpoint / MODEL_FILE)
    return {key.removeprefix("location."): value for key, value in weights.items() if key.startswith("location.")}


def run(
    config: RunConfig,
    run_dir: Path | None = None,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    on_epoch: Callable[[EpochInfo], None] | None = None,
    on_progress: Progress | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
    data: FeatureData | None = None,
) -> RunSummary:
    """Train the configured stage into ``run_dir`` (a new one by default) and evaluate it on test.

    Under torch.distributed only rank 0 creates and writes the run directory; other ranks train
    (reading ``run_dir``'s checkpoint when resuming) and return without evaluating.
    """
    resolve_device(config.train.device)  # a device this machine lacks is refused before any folder is made
    is_main = not dist.is_initialized() or dist.get_rank() == 0
    if is_main:
        run_dir = Path(run_dir) if run_dir is not None else new_run_dir(config.stage)
        _prepare_run_dir(run_dir, config, resume)
    data = data or load_run_data(config, on_progress)
    task = build_task(config, data)
    result = fit(task, config, run_dir, on_step=on_step, on_epoch=on_epoch, stop=stop, resume=resume)
    if not is_main:
        return RunSummary(Path(run_dir or "."), result.status, {}, result.best_metrics, result)
    test_metrics: dict[str, float] = {}
    if result.best_epoch > 0:
        load_model_weights(run_dir / "checkpoints" / BEST, task.model)
        test_metrics = evaluate_task_on_test(config, task, data)
    summary = RunSummary(run_dir, result.status, test_metrics, result.best_metrics, result)
    write_run_outputs(config, data, summary)
    return summary


def load_trained_run(run_dir: Path, data: FeatureData | None = None):
    """(config, model in eval mode with its best weights, data) of a finished run directory."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise CheckpointError(f"{run_dir}: not a GeoCSP run (config.yaml missing)")
    config = RunConfig.from_yaml(config_path.read_text())
    data = data or load_run_data(config)
    model = build_task(config, data).model
    load_model_weights(run_dir / "checkpoints" / BEST, model)
    return config, model.eval(), data


def load_run_data(config: RunConfig, progress: Progress | None = None):
    """What a stage trains on: site images for MoCo, cached image features + locations otherwise."""
    if config.stage == "moco":
        from core.geossl.sites import load_site_images

        return load_site_images(config.data, config.moco.image_size)
    return load_feature_data(config.data, progress)


def _prepare_run_dir(run_dir: Path, config: RunConfig, resume: bool) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "config.yaml"
    if config_path.exists() and resume:
        saved = RunConfig.from_yaml(config_path.read_text())
        differences = config_differences(saved.to_dict(), config.to_dict())
        if differences:
            raise CheckpointError(f"{run_dir}: cannot resume with a different config: {'; '.join(differences[:5])}")
    config_path.write_text(config.to_yaml())


@torch.no_grad()
def evaluate_task_on_test(config: RunConfig, task, data: FeatureData) -> dict[str, float]:
    """Test-split metrics of a trained task's model (never used for any choice during training)."""
    task.model.eval()
    if config.stage == "moco":
        from core.geossl.probes import probe_metrics

        return {f"test_{k}": v for k, v in probe_metrics(task, config.finetune.label_ratio).items()}
    if config.stage == "pretrain":
        return {f"test_{k.removeprefix('val_')}": v for k, v in task.evaluate(data.indices("test")).items()}
    test = data.labelled_indices("test")
    inputs = data.features if config.stage == "image_classifier" else data.lonlat
    probs = F.softmax(predict_logits(task.model, inputs[test]), dim=-1)
    return {f"test_{k}": v for k, v in classification_metrics(probs, data.labels[test]).items()}


def write_run_outputs(config: RunConfig, data: FeatureData, summary: RunSummary) -> None:
    """history.csv, steps.csv, metrics.json and the Markdown run card."""
    run_dir = summary.run_dir
    _write_rows(run_dir / "history.csv", summary.fit.history)
    _write_rows(run_dir / "steps.csv", summary.fit.steps)
    metrics = {
        "status": summary.status,
        "stage": config.stage,
        "best_epoch": summary.fit.best_epoch,
        "wall_seconds": round(summary.fit.wall_seconds, 2),
        "data_hash": data.fingerprint,
        **{f"best_{k}": v for k, v in summary.best_val_metrics.items()},
        **summary.test_metrics,
    }
    atomic_write_json(run_dir / "metrics.json", metrics)
    (run_dir / "run_card.md").write_text(run_card(config, data, summary, metrics))


def run_card(config: RunConfig, data: FeatureData, summary: RunSummary, metrics: dict) -> str:
    """A Markdown card: what ran, on what data, with which versions, how long, and what it measured."""
    rows = "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
    return f"""# Run {summary.run_dir.name}

- stage: **{config.stage}**, status: **{summary.status}**, best epoch {summary.fit.best_epoch} of {config.epochs}
- dataset: `{config.data.dataset}` (data hash `{data.fingerprint}`), image features `{config.data.image_encoder}`{_skipped_note(data)}
- split: {data.split_method}
- location encoder: `{config.location['encoding']}` + `{config.location['network']}`
- trained on {summary.fit.device} (train.device={config.train.device}, precision {config.train.precision})
- seed: {config.seed}; wall time {summary.fit.wall_seconds:.1f} s; finished {datetime.now(timezone.utc).isoformat(timespec='seconds')}
- versions: Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}

| metric | value |
| --- | --- |
{rows}

## Config

```yaml
{config.to_yaml()}```
"""


def _skipped_note(data: FeatureData, listed: int = 10) -> str:
    """The run card's note on images that could not be decoded (left out of the run)."""
    if not data.skipped_images:
        return ""
    names = ", ".join(f"`{name}`" for name in data.skipped_images[:listed])
    more = f" and {len(data.skipped_images) - listed} more" if len(data.skipped_images) > listed else ""
    return f"\n- {len(data.skipped_images)} image(s) skipped (undecodable, left out): {names}{more}"


def _write_rows(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.write_text("")
        return
    names = list(dict.fromkeys(name for row in rows for name in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)

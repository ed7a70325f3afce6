"""The starter models ``make app`` builds, so that Predict, Compare and the Embedding map work on first open.

Three runs, trained in order into stable folders of the runs folder (``runs/``, ``GEOCSP_RUNS``):

- ``starter-pretrain``: CSP pre-training with the library's default recipe (``python -m core pretrain``);
- ``starter-finetune``: the location classifier P(y | x), initialised from ``starter-pretrain``;
- ``starter-image-classifier``: the image classifier P(y | I) on the same data.

Each is the library's default config plus the overrides of :data:`STARTER_STAGES` (none today) and the caller's. The build is

- deterministic: every config has its seed, and the data are the embedded default dataset;
- cached: a run is skipped when it finished with the same config on the same data (config and data hash), and
  the run it starts from was skipped too;
- resumable: a run killed midway continues from its last checkpoint (``--resume``);
- self-repairing: a run from another config or other data, or one that failed, is trained again from scratch.

The app's pages choose the most recently finished run by default (:func:`core.train.records.default_run_index`),
so right after setup they show these runs, and a run the user trains later becomes the default.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from core.workflows.predict import SUCCEEDED
from core.train import runner
from core.train.checkpoint import CheckpointError
from core.train.config import RunConfig, load_config
from core.train.data import FeatureData
from core.train.loop import EpochInfo
from core.train.records import LAST, read_run, runs_root

#: The command that builds the starter runs (pages name it when the runs are absent).
BUILD_COMMAND = ".venv/bin/python -m core starter"

Action = Literal["skip", "resume", "train"]


@dataclass(frozen=True)
class StarterStage:
    """One starter run: its folder name, its training stage and the budget overrides (``key=value``) it adds."""

    name: str
    stage: str
    budget: tuple[str, ...] = ()
    starts_from: str = ""  # the starter run whose weights it starts from: retrained whenever that one is


#: The starter runs in training order: each the library's default recipe for its stage (no budget overrides: the
#: default pre-training is the encoder the probe benchmark measures, and all three train in well under a minute on
#: two cores, see docs/install.md). A stage may add ``key=value`` overrides in ``budget``.
STARTER_STAGES = (
    StarterStage("starter-pretrain", "pretrain"),
    StarterStage("starter-finetune", "finetune", starts_from="starter-pretrain"),
    StarterStage("starter-image-classifier", "image_classifier"),
)


@dataclass(frozen=True)
class StarterRun:
    """A planned starter run: where it goes and its full config."""

    spec: StarterStage
    run_dir: Path
    config: RunConfig


def starter_plan(root: Path | None = None, overrides: Sequence[str] = ()) -> list[StarterRun]:
    """The starter runs under ``root`` (default: the runs folder) with their configs: defaults, then the starter
    budget, then ``overrides`` (``key=value``, applied to every stage); fine-tuning starts from ``starter-pretrain``."""
    root = Path(root or runs_root()).resolve()
    plan = []
    for spec in STARTER_STAGES:
        stage_overrides = [*spec.budget, *overrides, f"stage={spec.stage}"]
        if spec.starts_from:
            stage_overrides.append(f"finetune.init_from={root / spec.starts_from}")
        plan.append(StarterRun(spec, root / spec.name, load_config(None, stage_overrides)))
    return plan


def next_action(run: StarterRun, data_hash: str) -> Action:
    """What a run folder needs: ``skip`` when it finished with this config on this data, ``resume`` when it holds a
    killed run of this config, else ``train`` (from scratch)."""
    if _saved_config(run.run_dir) != run.config.to_dict():
        return "train"
    record = read_run(run.run_dir)
    if record is not None:
        finished = record.status in SUCCEEDED and record.has_checkpoint() and record.metrics.get("data_hash") == data_hash
        return "skip" if finished else "train"
    return "resume" if (run.run_dir / "checkpoints" / LAST).is_dir() else "train"


def _saved_config(run_dir: Path) -> dict | None:
    try:
        return RunConfig.from_yaml((run_dir / "config.yaml").read_text()).to_dict()
    except (OSError, ValueError, yaml.YAMLError):
        return None


StageStarted = Callable[[StarterRun, Action], None]
EpochDone = Callable[[StarterRun, EpochInfo], None]


def build_starters(
    root: Path | None = None,
    overrides: Sequence[str] = (),
    *,
    on_stage: StageStarted | None = None,
    on_epoch: EpochDone | None = None,
) -> list[tuple[StarterRun, Action]]:
    """Train, resume or skip each starter run in order (see the module docstring); returns what was done to each.

    ``on_stage(run, action)`` is called before each run, ``on_epoch(run, info)`` after each epoch trained.
    Raises what the trainer raises (config, checkpoint and data errors) when a run cannot be trained.
    """
    done: list[tuple[StarterRun, Action]] = []
    loaded: dict[str, FeatureData] = {}
    for run in starter_plan(root, overrides):
        key = repr(run.config.data)
        data = loaded[key] = loaded.get(key) or runner.load_run_data(run.config)
        retrained = {earlier.spec.name for earlier, action in done if action != "skip"}
        action = "train" if run.spec.starts_from in retrained else next_action(run, data.fingerprint)
        if on_stage is not None:
            on_stage(run, action)
        if action != "skip":
            _train(run, data, action == "resume", on_epoch)
        done.append((run, action))
    return done


def _train(run: StarterRun, data: FeatureData, resume: bool, on_epoch: EpochDone | None) -> None:
    epoch_done = (lambda info: on_epoch(run, info)) if on_epoch is not None else None
    if resume:
        try:
            runner.run(run.config, run.run_dir, on_epoch=epoch_done, resume=True, data=data)
            return
        except CheckpointError:
            pass  # a checkpoint that cannot be read: train again from scratch
    shutil.rmtree(run.run_dir, ignore_errors=True)
    runner.run(run.config, run.run_dir, on_epoch=epoch_done, data=data)

"""Runs on disk: where they are written, and the finished ones read back (config, metrics, run card).

Light on purpose (no torch): the app lists runs on pages that train nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from core.data.paths import PROJECT_ROOT

LAST = "last"
"""Checkpoint folder of a run's latest epoch (``<run>/checkpoints/last``)."""
BEST = "best"
"""Checkpoint folder of a run's best epoch on validation (``<run>/checkpoints/best``)."""
ORIGIN_FILE = "origin.json"
"""Who started a run, written into its folder by the app when it knows (a shared app's user name)."""


def runs_root() -> Path:
    """Where runs are written (``GEOCSP_RUNS``, default ``<project>/runs``)."""
    return Path(os.environ.get("GEOCSP_RUNS", PROJECT_ROOT / "runs")).resolve()


@dataclass(frozen=True)
class RunRecord:
    """A finished run on disk: its directory, config (as saved) and metrics."""

    run_dir: Path
    config: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def stage(self) -> str:
        return str(self.metrics.get("stage", self.config.get("stage", "?")))

    @property
    def status(self) -> str:
        return str(self.metrics.get("status", "?"))

    def card(self) -> str:
        """The run card (Markdown), or what is known when the run wrote none (a failed run)."""
        path = self.run_dir / "run_card.md"
        if path.is_file():
            return path.read_text()
        return f"# Run {self.name}\n\n- stage: **{self.stage}**, status: **{self.status}**\n- {self.metrics.get('error', '')}\n"

    def history(self) -> pd.DataFrame:
        """Per-epoch train/validation metrics (empty when the run recorded none)."""
        return read_csv(self.run_dir / "history.csv")

    def has_checkpoint(self) -> bool:
        return (self.run_dir / "checkpoints" / BEST).is_dir()

    @property
    def made_by(self) -> str:
        """Who started the run in a shared app (its ``origin.json``); empty when not recorded."""
        try:
            origin = json.loads((self.run_dir / ORIGIN_FILE).read_text())
        except (OSError, ValueError):
            return ""
        return str(origin.get("made_by", "")) if isinstance(origin, dict) else ""

    @property
    def finished_at(self) -> float:
        """When the run finished: the modification time of its metrics.json (0 when it cannot be read)."""
        try:
            return (self.run_dir / "metrics.json").stat().st_mtime
        except OSError:
            return 0.0


def read_run(run_dir: Path) -> RunRecord | None:
    """The finished run in ``run_dir``, or None while it has no readable metrics.json."""
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if not isinstance(metrics, dict) or not isinstance(config, dict):
        return None
    return RunRecord(Path(run_dir), config, metrics)


def list_runs(root: Path | None = None) -> list[RunRecord]:
    """Finished runs under ``root`` (default :func:`runs_root`), newest first."""
    root = Path(root or runs_root())
    if not root.is_dir():
        return []
    records = (read_run(path) for path in root.iterdir() if path.is_dir())
    return sorted((r for r in records if r is not None), key=lambda r: r.name, reverse=True)


def default_run_index(records: Sequence[RunRecord], prefer_stage: str | None = None) -> int:
    """The position in ``records`` of the run a page offers by default: the one finished last, among those of
    ``prefer_stage`` when there are any. Right after setup that is a starter run (:mod:`core.workflows.starter`); a run the
    user trains later becomes the default. 0 for an empty list."""
    preferred = [i for i, r in enumerate(records) if r.stage == prefer_stage] or range(len(records))
    return max(preferred, key=lambda i: records[i].finished_at, default=0)


def list_sweeps(root: Path | None = None) -> list[Path]:
    """Directories of finished label-budget sweeps under ``root`` (default :func:`runs_root`), newest first."""
    root = Path(root or runs_root())
    if not root.is_dir():
        return []
    return sorted((path for path in root.iterdir() if (path / "sweep.json").is_file()), reverse=True)


_CONFIG_COLUMNS = {
    "stage": ("stage",),
    "dataset": ("data", "dataset"),
    "image features": ("data", "image_encoder"),
    "encoding": ("location", "encoding"),
    "network": ("location", "network"),
    "objective": ("pretrain", "objective"),
    "label ratio": ("finetune", "label_ratio"),
    "epochs": ("epochs",),
    "batch size": ("batch_size",),
    "lr": ("optim", "lr"),
    "seed": ("seed",),
}


def compare_runs(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per run (as read by :func:`read_run`): its key config values, status, epochs and metrics,
    indexed by run name."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"run": record.name}
        for column, path in _CONFIG_COLUMNS.items():
            row[column] = _dig(record.config, path)
        row.update({k: v for k, v in record.metrics.items() if k not in ("stage", "data_hash")})
        rows.append(row)
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def _dig(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        values = values.get(key) if isinstance(values, dict) else None
    return values


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV written by the runner, or an empty frame when it is missing or empty."""
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError):
        return pd.DataFrame()

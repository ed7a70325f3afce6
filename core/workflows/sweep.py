"""The label-budget sweep: the CSP paper's main table on any dataset (by default the embedded one).

For every location encoding and seed: CSP pre-training once on the training split (images and
locations, no labels), then at each label ratio a location classifier from scratch and one from the
CSP weights, an image classifier on the same labels, and their fusions (product rule and the
calibrated variant, fit on validation). Everything is reported on the spatially blocked test split.
Jobs run in parallel worker processes (one torch thread each).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import torch

from core.evaluate import predict_logits
from core.files import atomic_write_json
from core.fusion import fusion_report
from core.location.registry import ENCODINGS
from core.train.config import RunConfig
from core.train.data import FeatureData, load_feature_data
from core.train.loop import fit
from core.train.runner import build_task

DEFAULT_ENCODINGS = ("wrap", "grid", "theory", "sphereM+")
DEFAULT_RATIOS = (0.05, 0.10, 0.20, 1.0)
DEFAULT_SEEDS = (0, 1, 2)
METHODS = ("image", "location_scratch", "location_csp", "product_scratch", "product_csp", "calibrated_scratch", "calibrated_csp")
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SweepPlan:
    """What the sweep covers and how long each stage trains."""

    encodings: tuple[str, ...] = DEFAULT_ENCODINGS
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    pretrain_epochs: int = 8
    finetune_steps: int = 250  # optimiser steps per fine-tuning run (epochs follow from the label count)
    max_finetune_epochs: int = 150
    workers: int = 2


def stage_config(base: RunConfig, plan: SweepPlan, stage: str, encoding: str, seed: int, ratio: float, n_labelled: int = 0, init_from: str = "") -> RunConfig:
    """The run config of one sweep stage, derived from ``base``."""
    values = base.to_dict()
    values["seed"] = seed
    values["stage"] = stage
    if encoding != values["location"]["encoding"]:
        location = {**values["location"], "encoding": encoding, "encoding_params": {}}
        if location["network"] == ENCODINGS[values["location"]["encoding"]].default_network:
            del location["network"], location["network_params"]  # the base's default network: take this encoding's
        values["location"] = location
    values["finetune"] = {**values["finetune"], "label_ratio": ratio, "init_from": init_from}
    if stage == "pretrain":
        values["epochs"] = plan.pretrain_epochs
    else:
        steps_per_epoch = max(1, math.ceil(n_labelled / values["batch_size"]))
        values["epochs"] = min(plan.max_finetune_epochs, max(5, math.ceil(plan.finetune_steps / steps_per_epoch)))
        values["patience"] = max(values["patience"], values["epochs"] // 5)
    return RunConfig.from_dict(values)


def _train(config: RunConfig, data: FeatureData, encoder_state: dict | None = None):
    """Train a stage in memory; return its model with the best-epoch weights."""
    task = build_task(config, data)
    if encoder_state is not None:
        task.model.location.load_state_dict(encoder_state)
    result = fit(task, config, None)
    if result.best_state is not None:
        task.model.load_state_dict(result.best_state)
    task.model.eval()
    return task.model


def _split_logits(model, inputs: torch.Tensor, data: FeatureData) -> dict[str, torch.Tensor]:
    return {split: predict_logits(model, inputs[data.labelled_indices(split)]) for split in ("val", "test")}


_WORKER_DATA: dict[str, FeatureData] = {}


def _set_worker_data(data: FeatureData) -> None:
    torch.set_num_threads(1)
    _WORKER_DATA["data"] = data


def _image_job(base: RunConfig, plan: SweepPlan, seed: int) -> dict[float, dict[str, torch.Tensor]]:
    data = _WORKER_DATA["data"]
    logits = {}
    for ratio in plan.ratios:
        config = stage_config(base, plan, "image_classifier", base.location["encoding"], seed, ratio, len(data.label_budget(ratio)))
        logits[ratio] = _split_logits(_train(config, data), data.features, data)
    return logits


def _encoding_job(base: RunConfig, plan: SweepPlan, encoding: str, seed: int, image_logits: dict) -> list[dict]:
    data = _WORKER_DATA["data"]
    pretrained = _train(stage_config(base, plan, "pretrain", encoding, seed, 1.0), data)
    csp_state = pretrained.location.state_dict()
    labels = {split: data.labels[data.labelled_indices(split)] for split in ("val", "test")}
    rows = []
    for ratio in plan.ratios:
        n_labelled = len(data.label_budget(ratio))
        prior = data.class_prior(data.label_budget(ratio))
        config = stage_config(base, plan, "finetune", encoding, seed, ratio, n_labelled)
        reports = {
            init: fusion_report(image_logits[ratio], _split_logits(_train(config, data, state), data.lonlat, data), labels, prior)
            for init, state in (("scratch", None), ("csp", csp_state))
        }
        methods = {
            "image": reports["scratch"]["image"],
            **{f"location_{init}": reports[init]["location"] for init in reports},
            **{f"product_{init}": reports[init]["product"] for init in reports},
            **{f"calibrated_{init}": reports[init]["calibrated"] for init in reports},
        }
        rows += [
            {"encoding": encoding, "seed": seed, "ratio": ratio, "labelled": n_labelled, "method": method, **metrics}
            for method, metrics in methods.items()
        ]
    return rows


def label_budget_sweep(
    base: RunConfig, plan: SweepPlan, out_dir: Path, data: FeatureData | None = None, progress: Progress | None = None
) -> pd.DataFrame:
    """Run the sweep; write ``sweep.csv``, ``sweep.md``, ``sweep.png`` and ``sweep.json`` to ``out_dir``."""
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    data = data or load_feature_data(base.data, progress)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = len(plan.seeds) * (1 + len(plan.encodings))
    done = 0
    with _executor(plan.workers, data) as pool:
        image_futures = {seed: pool.submit(_image_job, base, plan, seed) for seed in plan.seeds}
        image_logits = {}
        for seed, future in image_futures.items():
            image_logits[seed] = future.result()
            done += 1
            report(done / jobs, f"image classifiers for seed {seed} done")
        futures = [
            pool.submit(_encoding_job, base, plan, encoding, seed, image_logits[seed])
            for encoding in plan.encodings
            for seed in plan.seeds
        ]
        rows = []
        for future in futures:
            rows += future.result()
            done += 1
            report(done / jobs, f"{done} of {jobs} sweep jobs done")
    table = pd.DataFrame(rows)
    wall = time.perf_counter() - started
    table.to_csv(out_dir / "sweep.csv", index=False)
    (out_dir / "sweep.md").write_text(markdown_table(table))
    plot_sweep(table, out_dir / "sweep.png")
    atomic_write_json(out_dir / "sweep.json", {"plan": asdict(plan), "wall_seconds": round(wall, 1), "data_hash": data.fingerprint})
    return table


class _InlineExecutor:
    """Runs submitted jobs immediately in this process (workers=1), with the same interface."""

    def __init__(self, data: FeatureData) -> None:
        self.previous_threads = torch.get_num_threads()
        _set_worker_data(data)

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self.previous_threads)


def _executor(workers: int, data: FeatureData):
    if workers <= 1:
        return _InlineExecutor(data)
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_set_worker_data, initargs=(data,))


def summarise(table: pd.DataFrame, metric: str = "top1") -> pd.DataFrame:
    """Mean and std over seeds of ``metric`` per (encoding, ratio, method)."""
    grouped = table.groupby(["encoding", "ratio", "method"])[metric]
    return grouped.agg(["mean", "std"]).fillna({"std": 0.0}).reset_index()


def markdown_table(table: pd.DataFrame, metric: str = "top1") -> str:
    """Test ``metric`` (×100, mean ± std over seeds) per encoding and label ratio, one column per method."""
    summary = summarise(table, metric)
    lines = [
        f"Test {metric} (%), mean ± std over seeds {sorted(table['seed'].unique().tolist())}; "
        "CSP gain = relative improvement of location-only with CSP pre-training over scratch.",
        "",
        "| encoding | labels | " + " | ".join(METHODS) + " | CSP gain |",
        "| --- | --- | " + " | ".join("---" for _ in METHODS) + " | --- |",
    ]
    for (encoding, ratio), group in summary.groupby(["encoding", "ratio"], sort=True):
        by_method = group.set_index("method")
        cells = [f"{100 * by_method.at[m, 'mean']:.1f} ± {100 * by_method.at[m, 'std']:.1f}" for m in METHODS]
        gain = by_method.at["location_csp", "mean"] / by_method.at["location_scratch", "mean"] - 1
        lines.append(f"| {encoding} | {ratio:.0%} | " + " | ".join(cells) + f" | {gain:+.1%} |")
    return "\n".join(lines) + "\n"


def plot_sweep(table: pd.DataFrame, path: Path, metric: str = "top1") -> None:
    """One panel per encoding: test ``metric`` against label ratio for every method (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(table, metric)
    encodings = sorted(summary["encoding"].unique())
    figure, axes = plt.subplots(1, len(encodings), figsize=(4.2 * len(encodings), 3.6), squeeze=False, sharey=True)
    for axis, encoding in zip(axes[0], encodings):
        part = summary[summary["encoding"] == encoding]
        for method in METHODS:
            line = part[part["method"] == method].sort_values("ratio")
            axis.errorbar(line["ratio"] * 100, line["mean"] * 100, yerr=line["std"] * 100, label=method, marker="o", capsize=2)
        axis.set_xscale("log")
        axis.set_xlabel("labelled training data (%)")
        axis.set_title(encoding)
    axes[0][0].set_ylabel(f"test {metric} (%)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

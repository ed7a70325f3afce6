"""Mixed precision on this machine's CPU: the default pre-training run in fp32 and in bf16 (``train.precision``),
side by side — training speed (steps/s, wall and CPU seconds), the final losses and test retrieval, and the
linear-probe scores of the two encoders on the embedded tasks (same folds), with the load averages.

    python -m benchmarks.precision [--precision fp32 --precision bf16] [--points 1500] [--set key=value ...]

:func:`train_variants` and :func:`print_variants` are shared with ``benchmarks.device_check`` (the same run on the
CPU and a GPU).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.default_encoder import pretrain_default
from benchmarks.timing import load_text
from core.probes import EMBEDDED_TASKS, ProbeReport, embedded_task, run_probes
from core.train.records import read_run


@dataclass
class TrainedVariant:
    """One default pre-training run of a comparison, and what it measured."""

    label: str
    run_dir: Path
    embedding: str  # the probe spec of its default embedding layer
    wall: float
    cpu: float
    steps: int
    peak_gpu_mib: float  # NaN without CUDA
    first_train_loss: float
    last_train_loss: float
    metrics: dict[str, float]

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.wall


def train_variants(variants: dict[str, list[str]], root: Path, common: list[str] = ()) -> list[TrainedVariant]:
    """The default pre-training run once per ``label: overrides`` (after ``common``), each into ``root/<n>``."""
    trained = []
    for position, (label, overrides) in enumerate(variants.items()):
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        run_dir, layer, wall, cpu = pretrain_default([*common, *overrides], root / str(position))
        peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else float("nan")
        record = read_run(run_dir)
        history = record.history()
        trained.append(TrainedVariant(label, run_dir, f"run:{run_dir}:{layer}", wall, cpu, int(history["steps"].sum()), peak,
                                      float(history["train_loss"].iloc[0]), float(history["train_loss"].iloc[-1]), record.metrics))
        print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU, {trained[-1].steps} steps; {load_text()}", flush=True)
    return trained


def print_variants(trained: list[TrainedVariant]) -> None:
    """The runs side by side: speed, peak GPU memory, losses and test retrieval."""
    print("\n| run | wall s | CPU s | steps/s | peak GPU MiB | last train loss | best val loss | test loss | test retrieval top-1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in trained:
        peak = "–" if run.peak_gpu_mib != run.peak_gpu_mib else f"{run.peak_gpu_mib:,.0f}"
        print(f"| {run.label} | {run.wall:.1f} | {run.cpu:.1f} | {run.steps_per_second:.1f} | {peak} | {run.last_train_loss:.4f} | "
              f"{run.metrics['best_val_loss']:.4f} | {run.metrics['test_loss']:.4f} | {run.metrics['test_retrieval_top1']:.4f} |")


def probe_variants(trained: list[TrainedVariant], points: int) -> ProbeReport:
    """Linear probes of every run's default embedding on the embedded tasks (same folds)."""
    started = time.perf_counter()
    report = run_probes([run.embedding for run in trained], [embedded_task(name, points) for name in EMBEDDED_TASKS], knn=False)
    print(f"\nprobes of the {len(trained)} encoders (same folds), {time.perf_counter() - started:.0f} s; {load_text()}\n")
    print(report.to_markdown(), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", action="append", choices=("fp32", "bf16", "fp16"), help="precisions to compare (default fp32, bf16)")
    parser.add_argument("--points", type=int, default=1500, help="probe points per task")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the default run config")
    args = parser.parse_args()
    precisions = args.precision or ["fp32", "bf16"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 CPU kernels: "
          f"{torch.backends.mkldnn.is_available()}; start: {load_text()}", flush=True)
    variants = {precision: ["train.device=cpu", f"train.precision={precision}"] for precision in precisions}
    trained = train_variants(variants, Path(tempfile.mkdtemp(prefix="precision-")), args.set)
    print_variants(trained)
    probe_variants(trained, args.points)


if __name__ == "__main__":
    main()

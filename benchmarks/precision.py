"""Mixed precision on this machine's CPU: the default pre-training run in fp32 and in bf16 (``train.precision``),
side by side — training speed (steps/s, wall and CPU seconds), the final losses and test retrieval, and the
linear-probe scores of the two encoders on the embedded tasks (same folds), with the load averages.

    python -m benchmarks.precision [--precision fp32 --precision bf16] [--points 1500] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.default_encoder import pretrain_default
from benchmarks.timing import load_text
from core.probes import EMBEDDED_TASKS, embedded_task, run_probes
from core.train.records import read_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", action="append", choices=("fp32", "bf16", "fp16"), help="precisions to compare (default fp32, bf16)")
    parser.add_argument("--points", type=int, default=1500, help="probe points per task")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the default run config")
    args = parser.parse_args()
    precisions = args.precision or ["fp32", "bf16"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 CPU kernels: "
          f"{torch.backends.mkldnn.is_available()}; start: {load_text()}", flush=True)

    root = Path(tempfile.mkdtemp(prefix="precision-"))
    rows, embeddings = [], []
    for precision in precisions:
        run_dir, layer, wall, cpu = pretrain_default([*args.set, f"train.precision={precision}"], root / precision)
        record = read_run(run_dir)
        history = record.history()
        steps = int(history["steps"].sum())
        rows.append((precision, wall, cpu, steps / wall, history["train_loss"].iloc[-1], record.metrics["best_val_loss"],
                     record.metrics["test_loss"], record.metrics["test_retrieval_top1"]))
        embeddings.append(f"run:{run_dir}:{layer}")
        print(f"{precision}: {wall:.1f} s wall, {cpu:.1f} s CPU, {steps} steps; {load_text()}", flush=True)

    print("\n| precision | wall s | CPU s | steps/s | last train loss | best val loss | test loss | test retrieval top-1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for precision, wall, cpu, rate, train_loss, val_loss, test_loss, top1 in rows:
        print(f"| {precision} | {wall:.1f} | {cpu:.1f} | {rate:.1f} | {train_loss:.4f} | {val_loss:.4f} | {test_loss:.4f} | {top1:.4f} |")

    started = time.perf_counter()
    report = run_probes(embeddings, [embedded_task(name, args.points) for name in EMBEDDED_TASKS], knn=False)
    print(f"\nprobes of the two encoders (same folds), {time.perf_counter() - started:.0f} s; {load_text()}\n")
    print(report.to_markdown())


if __name__ == "__main__":
    main()

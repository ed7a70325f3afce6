"""The transfer-probe table (issue 11): raw (lon, lat), xyz, bare encodings, an untrained network, GeoCLIP and the
newest pre-training run under ``runs/`` (if any), linear probes on the five embedded tasks under 5-fold
H3-blocked CV, with the k-NN interpolation reference as the baseline in the same run. Prints the table, each
embedding's probe seconds over all tasks and the load average.

    python -m benchmarks.probes [--points 3000] [--embedding E ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from pathlib import Path

import torch

from core.probes import EMBEDDED_TASKS, default_embeddings, embedded_task, run_probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=3000)
    parser.add_argument("--embedding", action="append", default=[], help="embeddings (default: core.probes.default_embeddings())")
    parser.add_argument("--out", type=Path, default=None, help="also write probes.md/.csv here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()}")
    started = time.perf_counter()
    tasks = [embedded_task(name, args.points) for name in EMBEDDED_TASKS]
    built = time.perf_counter() - started
    report = run_probes(args.embedding or default_embeddings(), tasks)
    print(report.to_markdown())
    seconds: dict[str, float] = defaultdict(float)
    for result in report.results:
        seconds[result.embedding] += result.seconds
    print("probe seconds over all tasks: " + ", ".join(f"{name} {value:.1f}" for name, value in seconds.items()))
    print(f"tasks built or read in {built:.1f} s; total {time.perf_counter() - started:.1f} s; load average after: {os.getloadavg()}")
    if args.out:
        print("written to", *report.write(args.out))


if __name__ == "__main__":
    main()

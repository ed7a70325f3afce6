"""How long ``make app``'s model steps take on this machine: the starter build (``python -m core starter``) into an
empty runs folder, then again (the cached second ``make app``: nothing retrained); with ``--with-data`` first the
default dataset and its EfficientNet-Lite0 features into an empty cache (what setup builds before the starters).

Prints wall time and CPU time (user + system) of each step, each starter run's training time and the load average:
on a shared machine the wall time grows with the load, the CPU time much less (on an idle 2-core machine the wall
time is at most the CPU time, as the training uses both cores).

    .venv/bin/python -m benchmarks.starter_build [--with-data] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.data.paths import PROJECT_ROOT
from core.workflows.starter import STARTER_STAGES

DATA_STEPS = {
    "default dataset": ["-m", "core.data", "build-default"],
    "image features": ["-m", "core.image", "extract", "--encoder", "efficientnet_lite0_64px"],
}


def timed(name: str, args: list[str], env: dict[str, str]) -> dict[str, float | str]:
    """Run ``python <args>`` (output to the terminal); its wall and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=PROJECT_ROOT, env=env, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"step": name, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_1min": round(os.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--with-data", action="store_true", help="also build the default dataset and features into an empty cache")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="geocsp-starter-bench-") as scratch:
        runs = Path(scratch) / "runs"
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        if args.with_data:
            env["GEOCSP_CACHE"] = str(Path(scratch) / "cache")
        rows = [timed(name, command, env) for name, command in DATA_STEPS.items()] if args.with_data else []
        starter = ["-m", "core", "starter", "--runs", str(runs), *(arg for value in args.overrides for arg in ("--set", value))]
        rows.append(timed("starter build (fresh)", starter, env))
        rows.append(timed("starter build (second run, cached)", starter, env))
        trainings = {s.name: json.loads((runs / s.name / "metrics.json").read_text())["wall_seconds"] for s in STARTER_STAGES}
    print("\n| step | wall s | CPU s | load (1 min) |\n| --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['step']} | {row['wall_s']} | {row['cpu_s']} | {row['load_1min']} |")
    print("\ntraining time per starter run (s):", trainings)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

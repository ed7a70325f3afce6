"""The default pretrained location encoder against the baselines, on the embedded probe tasks.

Pre-trains ``python -m core pretrain``'s default config (no arguments; image features extracted and
cached once, so a second run of this script times the training alone) into a fresh run folder, timed
with the load averages of this shared machine, then probes under the same spatially blocked folds:
raw (lon, lat), xyz, every bare positional encoding (registry defaults), the untrained network
(``untrained:run:…``: the run's own encoder and embedding layer at random weights from its seed),
the pretrained GeoCLIP encoder and the pretrained run at its configured embedding
layer (``location.embedding``) and at the network output. Prints the probe table (linear probe:
accuracy for classification, R² for regression; mean over folds) and, per task, whether the default
embedding beats each baseline.

    python -m benchmarks.default_encoder [--points 3000] [--set key=value ...] [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.timing import load_text
from core.location import ENCODINGS
from core.probes import EMBEDDED_TASKS, embedded_task, run_probes
from core.train.config import load_config
from core.train.runner import run

SKIPPED_BARE = {"geoclip", "wrap_ffn"}  # geoclip is probed as the pretrained encoder; wrap_ffn is wrap's features


def pretrain_default(overrides: list[str], run_dir: Path) -> tuple[Path, str, float, float]:
    """Run the default pre-training (with ``overrides``); return its folder, embedding layer, wall and CPU seconds."""
    config = load_config(None, overrides)
    started, cpu = time.perf_counter(), time.process_time()
    summary = run(config, run_dir)
    return summary.run_dir, config.location_config().embedding, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=3000, help="probe points per task")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the default run config")
    parser.add_argument("--run-dir", type=Path, help="an existing pre-training run to probe instead of training one")
    args = parser.parse_args()

    print(f"start: {load_text()}", flush=True)
    if args.run_dir:
        run_dir, layer, seconds = args.run_dir, load_config(args.run_dir / "config.yaml").location_config().embedding, float("nan")
    else:
        run_dir, layer, seconds, cpu = pretrain_default(args.set, Path(tempfile.mkdtemp(prefix="default-encoder-")) / "run")
        print(f"default pre-training (features cached or extracted, then training): {seconds:.1f} s wall, {cpu:.1f} s CPU "
              f"(this process, all threads; wall / 2 cores would be {cpu / 2:.1f} s unshared); {load_text()}", flush=True)
    default = f"run:{run_dir}:{layer}"
    baselines = ["lonlat", "xyz", *(f"encoding:{name}" for name in ENCODINGS if name not in SKIPPED_BARE), f"untrained:run:{run_dir}", "geoclip"]
    embeddings = [*baselines, f"run:{run_dir}:output", default]

    started = time.perf_counter()
    tasks = [embedded_task(name, args.points) for name in EMBEDDED_TASKS]
    report = run_probes(embeddings, tasks, knn=False)
    print(f"probes: {time.perf_counter() - started:.1f} s; {load_text()}\n", flush=True)
    print(report.to_markdown(), flush=True)

    ours_label = report.results[-1].embedding  # the default embedding is probed last on every task
    print(f"\ndefault embedding = {ours_label} (layer {layer!r}; pre-trained in {seconds:.1f} s)")
    for task in tasks:
        results = [result for result in report.results if result.task == task.name]
        ours = report.result(task.name, ours_label).mean()
        behind = [f"{r.embedding} {r.mean():.3f}" for r in results if r.embedding != ours_label and r.mean() >= ours]
        verdict = "beats every other embedding" if not behind else f"not ahead of {', '.join(behind)}"
        print(f"{task.name:>20} {results[0].primary} {ours:.3f}: {verdict}")

if __name__ == "__main__":
    main()

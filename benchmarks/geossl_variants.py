"""Geography-aware SSL on the embedded dataset: MoCo-v2, +Geo, +TP, +Geo+TP side by side.

Trains each variant (small CNN on 32 px chips, CPU) on a default-builder dataset, then reports the
linear probe (top-1, macro-F1), the kNN probe and, optionally, the fine-tuning probe on the
spatially blocked test split — mean ± std over seeds. Also measures MoCo step throughput (images/s)
for the small CNN at 32 px and ResNet-18 at 64 px.

    python -m benchmarks.geossl_variants [--places 3000] [--epochs 4] [--seeds 0,1] [--finetune]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from core.data.default_dataset import DefaultDatasetConfig, load_default_dataset
from core.data.paths import cache_root
from core.geossl.moco import MoCoTask
from core.geossl.probes import finetune_probe, probe_metrics
from core.geossl.sites import default_site_images
from core.train.config import RunConfig
from core.train.loop import build_optimizer, fit

VARIANTS = {"MoCo-v2": (False, 0.0), "MoCo-v2+Geo": (False, 1.0), "MoCo-v2+TP": (True, 0.0), "MoCo-v2+Geo+TP": (True, 1.0)}


def variant_config(temporal: bool, geo: float, seed: int, epochs: int, backbone: str = "small_cnn", size: int = 32) -> RunConfig:
    return RunConfig.from_dict(
        {
            "stage": "moco",
            "seed": seed,
            "epochs": epochs,
            "batch_size": 256,
            "patience": epochs,
            "optim": {"lr": 3e-3, "warmup_epochs": 1},
            "moco": {"backbone": backbone, "image_size": size, "temporal_positives": temporal, "geo_weight": geo, "queue_size": 4096},
        }
    )


def step_throughput(backbone: str, size: int, sites, steps: int = 5) -> float:
    """Images/s of full MoCo steps (augment 2 views, query fwd+bwd, key fwd, optimiser step)."""
    config = variant_config(True, 1.0, 0, 1, backbone, size)
    task = MoCoTask(config, sites)
    optimizer = build_optimizer(task.model, config)
    generator = torch.Generator().manual_seed(0)
    batch = task.train_sites[: config.batch_size]
    task.model.train()
    timings = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        loss = task.training_loss(task.model, batch, generator).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        timings.append(time.perf_counter() - started)
    return 2 * len(batch) / (sum(timings[1:]) / steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--places", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--finetune", action="store_true", help="also run the fine-tuning probe (slower)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    dataset = load_default_dataset(
        DefaultDatasetConfig(n_locations=args.places, chip_px=32, seed=1), directory=cache_root() / f"geossl-{args.places}"
    )
    sites32 = default_site_images(dataset, 32)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.places} places, "
          f"{len(sites32.sites('train'))} training sites x 3 aligned views")
    print(f"MoCo step throughput: small_cnn@32px {step_throughput('small_cnn', 32, sites32):.0f} img/s, "
          f"resnet18@64px {step_throughput('resnet18', 64, default_site_images(dataset, 64)):.0f} img/s")

    rows = []
    for name, (temporal, geo) in VARIANTS.items():
        for seed in (int(s) for s in args.seeds.split(",")):
            config = variant_config(temporal, geo, seed, args.epochs)
            torch.manual_seed(seed)
            task = MoCoTask(config, sites32)
            result = fit(task, config, None)
            task.model.load_state_dict(result.best_state)
            metrics = probe_metrics(task, label_ratio=1.0)
            if args.finetune:
                metrics.update(finetune_probe(task, label_ratio=1.0, epochs=3, seed=seed))
            rows.append({"variant": name, "seed": seed, "train_seconds": result.wall_seconds, **metrics})
            print(f"  {name:<16} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    table = pd.DataFrame(rows)
    summary = table.drop(columns="seed").groupby("variant", sort=False).agg(["mean", "std"])
    print("\ntest split, mean ± std over seeds")
    for variant, row in summary.iterrows():
        cells = [f"{k} {100 * row[(k, 'mean')]:.1f} ± {100 * row[(k, 'std')]:.1f}" for k in table.columns[3:]]
        print(f"  {variant:<16} " + " | ".join(cells))
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    Path("test-artifacts").mkdir(exist_ok=True)
    table.to_csv("test-artifacts/geossl_variants.csv", index=False)


if __name__ == "__main__":
    main()

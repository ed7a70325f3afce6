"""CSP pre-training throughput against a straightforward reference loop, measured in the same run.

Ours: one epoch of :class:`core.train.tasks.PretrainTask` (MC-SSL: in-batch + random negative
location + SimCSE, ``theory`` encoding, pure-torch vectorised encoding, negatives drawn in torch).
Reference: the same network, optimiser, batch size and loss parts, but written the way the
reference CSP code does it — the Space2Vec encoding computed in numpy per batch with a loop over
scales, negatives drawn in numpy, then copied into torch. Also times one default pre-training run
(the app's default config) end to end.

    python -m benchmarks.csp_pretraining [--quick] [--threads N] [--encoder efficientnet_lite0_64px|small_cnn]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core.location.encodings.space2vec import DIRECTIONS
from core.objectives import MCSSLWeights, mcssl_loss
from core.train.config import RunConfig
from core.train.data import load_feature_data
from core.train.loop import build_optimizer, fit
from core.train.runner import build_task


def numpy_theory_encoding(lonlat: np.ndarray, num_scales: int = 32, r_min: float = 0.1, r_max: float = 360.0) -> np.ndarray:
    """Space2Vec ``theory`` features the reference way: numpy, one scale at a time."""
    features = []
    for direction in DIRECTIONS["theory"]:
        projected = lonlat @ np.asarray(direction)
        for s in range(num_scales):
            scale = r_min * (r_max / r_min) ** (s / (num_scales - 1))
            features.append(np.stack([np.sin(projected / scale), np.cos(projected / scale)], axis=1))
    return np.concatenate(features, axis=1).astype(np.float32)


def reference_epoch(task, config: RunConfig) -> float:
    """One epoch with numpy encodings per batch; returns seconds."""
    model = task.model
    network, projection = model.location.network, model.projection
    optimizer = build_optimizer(model, config)
    weights = MCSSLWeights()
    rng = np.random.default_rng(0)
    lonlat_all = task.data.lonlat.numpy().astype(np.float64)
    features_all = task.data.features
    order = rng.permutation(task.train_indices.numpy())
    model.train()
    started = time.perf_counter()
    for start in range(0, len(order), config.batch_size):
        batch = order[start : start + config.batch_size]
        if len(batch) < 2:
            continue
        negatives = np.stack([rng.uniform(-180, 180, len(batch)), np.degrees(np.arcsin(rng.uniform(-1, 1, len(batch))))], 1)
        encoded = torch.from_numpy(numpy_theory_encoding(lonlat_all[batch]))
        encoded_negative = torch.from_numpy(numpy_theory_encoding(negatives))
        location = network(encoded)
        output = mcssl_loss(
            location, projection(features_all[batch]), weights, network(encoded_negative)[:, None, :], network(encoded)
        )
        optimizer.zero_grad()
        output.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
        optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 repeats instead of 3")
    parser.add_argument("--encoder", default="efficientnet_lite0_64px", help="image features to pre-train on")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats = 2 if args.quick else 3  # the best of >= 2: the first pass pays torch's lazy imports

    config = RunConfig.from_dict({"epochs": 1, "location": {"encoding": "theory"}, "data": {"image_encoder": args.encoder}})
    data = load_feature_data(config.data)
    n_train = int((data.splits == "train").sum())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n_train} training pairs, "
          f"{data.feature_dim}-d {args.encoder} features, batch {config.batch_size}")

    ours, reference = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        fit(build_task(config, data), config, None)
        ours.append(time.perf_counter() - started)
        reference.append(reference_epoch(build_task(config, data), config))
    ours_s, reference_s = min(ours), min(reference)
    print(f"{'loop':<34}{'s/epoch':>9}{'samples/s':>12}")
    print(f"{'GeoCSP (torch encoding, + val)':<34}{ours_s:>9.2f}{n_train / ours_s:>12.0f}")
    print(f"{'reference (numpy per batch)':<34}{reference_s:>9.2f}{n_train / reference_s:>12.0f}")
    print(f"speed-up: {reference_s / ours_s:.2f}x")

    default = RunConfig.from_dict({"data": {"image_encoder": args.encoder}})
    started = time.perf_counter()
    result = fit(build_task(default, data), default, None)
    wall = time.perf_counter() - started
    print(f"default pre-training run ({default.epochs} epochs, {result.status} after {len(result.history)}): "
          f"{wall:.1f} s, val retrieval top-1 {result.best_metrics['val_retrieval_top1']:.3f}")


if __name__ == "__main__":
    main()

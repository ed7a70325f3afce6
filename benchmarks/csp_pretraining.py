"""CSP pre-training throughput against reference loops, measured in the same run.

Default mode — ours: one epoch of :class:`core.train.tasks.PretrainTask` (MC-SSL: in-batch + random
negative location + SimCSE, ``theory`` encoding, pure-torch vectorised encoding, negatives drawn in
torch). Reference: the same network, optimiser, batch size and loss parts, but written the way the
reference CSP code does it — the Space2Vec encoding computed in numpy per batch with a loop over
scales, negatives drawn in numpy, then copied into torch. Also times one default pre-training run
(the app's default config) end to end.

``--csp /path/to/csp`` mode — the training step side by side with the real CSP code
(gengchenmai/csp, its ``main/`` folder imported from where it lies, nothing copied): the reference's
own ``theory`` encoder + feed-forward net + ``LocationImageEncoder`` and its ``contsoftmax_loss``
(in-batch + negative location + SimCSE) with Adam, against our trainer (:func:`core.train.loop.fit`)
on a network of the same size (``mlp``: Linear → act → dropout → LayerNorm, Linear head), the same
batch size, scales, feature dimension and data, one thread by default. Steps are fed from in-memory
tensors on both sides (the reference's per-sample DataLoader is left out). Time is the process's CPU
time (one thread: what the step costs, however many other programs share the machine); wall-clock
rates are printed beside it. It prints steps/s, the ratio, the matmul FLOP/s each step achieves (the GEMMs of one step counted analytically: forward,
weight gradients, input gradients where an input needs one) and that as a fraction of a plain
``torch.mm`` benchmark of exactly those GEMM shapes, timed in the same run.

    python -m benchmarks.csp_pretraining [--quick] [--threads N] [--encoder efficientnet_lite0_64px|small_cnn]
    python -m benchmarks.csp_pretraining --csp /path/to/csp [--encoder small_cnn] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from core.location.encodings.space2vec import DIRECTIONS
from core.objectives import MCSSLWeights, mcssl_loss
from core.train.config import RunConfig
from core.train.data import FeatureData, load_feature_data
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


# --- the step side by side with the real CSP code -------------------------------------------------


@dataclass(frozen=True)
class StepShape:
    """The sizes that fix a CSP training step's GEMMs."""

    batch: int
    negatives: int  # random negative locations per positive
    linears: tuple[tuple[int, int], ...]  # (in, out) of the location network's Linear layers, in order
    feature_dim: int  # image features, projected to the embedding size
    embedding_dim: int
    shared_layers: int = 0  # leading Linear layers run once for the positives and their SimCSE view


def step_gemms(shape: StepShape) -> list[tuple[int, int, int]]:
    """``(m, k, n)`` of every GEMM of one MC-SSL training step, forward and backward.

    Forward: each location-network Linear over its rows (positives, negatives and the SimCSE view;
    the ``shared_layers`` skip the SimCSE view), the image projection, the in-batch and the SimCSE
    logits (the negative-location dot products, B·K·D multiply-adds, are left out). Backward: every
    Linear's weight gradient; input gradients except where the input needs none (the first layer
    reads a parameter-free encoding, the projection fixed image features); both operands of each
    logits matrix.
    """
    b, d = shape.batch, shape.embedding_dim
    rows = [b * (1 + shape.negatives) if index < shape.shared_layers else b * (2 + shape.negatives) for index in range(len(shape.linears))]
    layers = [(r, i, o) for r, (i, o) in zip(rows, shape.linears)]
    gemms = layers + [(b, shape.feature_dim, d), (b, d, b), (b, d, b)]
    gemms += [(o, r, i) for r, i, o in layers] + [(d, b, shape.feature_dim)]
    gemms += [(r, o, i) for r, i, o in layers[1:]]
    return gemms + [(b, b, d)] * 4


def gemm_flops(gemms: list[tuple[int, int, int]]) -> float:
    """Floating-point operations of the GEMMs (2·m·k·n each)."""
    return float(sum(2 * m * k * n for m, k, n in gemms))


def matmul_seconds(gemms: list[tuple[int, int, int]], repeats: int) -> float:
    """Best CPU time of plain ``torch.mm`` over the GEMMs (operands and outputs allocated once)."""
    operands = [(torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)) for m, k, n in gemms]
    best = float("inf")
    for _ in range(repeats + 1):
        started = time.process_time()
        for a, b, out in operands:
            torch.mm(a, b, out=out)
        best = min(best, time.process_time() - started)
    return best


def load_reference(csp_dir: Path) -> SimpleNamespace:
    """The reference's ``utils``, ``models`` and ``losses`` modules, imported from ``<csp>/main``."""
    main = (csp_dir / "main").resolve()
    if not (main / "losses.py").is_file():
        raise SystemExit(f"--csp: {csp_dir} has no main/losses.py (expected a checkout of gengchenmai/csp)")
    sys.path.insert(0, str(main))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            modules = {name: importlib.import_module(name) for name in ("utils", "models", "losses")}
    finally:
        sys.path.remove(str(main))
    for name, module in modules.items():
        if Path(module.__file__).resolve().parent != main:
            raise SystemExit(f"--csp: the module {name!r} resolved to {module.__file__}, not the reference's")
    return SimpleNamespace(**modules)


def reference_params(num_scales: int, hidden_dim: int, act: str, weights: MCSSLWeights) -> dict:
    """The reference's params dict for ``theory`` + its feed-forward net and the contsoftmax loss."""
    return {
        "spa_enc_type": "theory", "frequency_num": num_scales, "max_radius": 360.0, "min_radius": 0.1,
        "freq_init": "geometric", "num_hidden_layer": 1, "hidden_dim": hidden_dim, "dropout": 0.5,
        "use_layn": True, "skip_connection": True, "spa_f_act": act, "map_range": [-180, 180, -90, 90],
        "num_rbf_anchor_pts": 100, "rbf_kernal_size": 10e2, "spa_enc_use_postmat": True, "device": "cpu",
        "unsuper_loss": "contsoftmax", "num_neg_rand_loc": 1, "neg_rand_type": "spherical",
        "unsuper_temp_inbatch": weights.tau_in_batch, "unsuper_temp_negloc": weights.tau_negative_location,
        "unsuper_temp_simcse": weights.tau_simcse, "rand_sample_weight": weights.negative_location,
        "simcse_weight": weights.simcse,
    }


def stamp() -> tuple[float, float, int]:
    """(CPU seconds of this process, wall seconds, minor page faults so far) now."""
    return time.process_time(), time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def reference_step_times(reference: SimpleNamespace, params: dict, data: FeatureData, config: RunConfig) -> np.ndarray:
    """(CPU s, wall s, page faults) of each step of one epoch of the reference's model + contsoftmax loss + Adam."""
    torch.manual_seed(config.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        location = reference.utils.get_model(
            train_locs=None, params=params, spa_enc_type="theory", num_inputs=2, num_classes=1,
            num_filts=256, num_users=1, device="cpu",
        )
    model = reference.models.LocationImageEncoder(location, "full_loss", "contsoftmax", data.feature_dim, "theory")
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optim.lr)
    inds = torch.arange(config.batch_size)
    generator = torch.Generator().manual_seed(config.seed)
    train = data.indices("train")
    order = train[torch.randperm(len(train), generator=generator)]
    model.train()
    stamps = [stamp()]
    for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
        batch = order[start : start + config.batch_size]
        optimizer.zero_grad()
        loss = reference.losses.contsoftmax_loss(model, params, data.lonlat[batch], data.features[batch], inds)
        loss.backward()
        optimizer.step()
        loss.item()
        stamps.append(stamp())
    return np.diff(stamps, axis=0)


def our_step_times(config: RunConfig, data: FeatureData, compiled: bool = False) -> np.ndarray:
    """(CPU s, wall s, page faults) of each step of one epoch of our trainer (the validation after it not
    timed); ``compiled`` wraps the location network in ``torch.compile`` first."""
    task = build_task(config, data)
    if compiled:
        task.model.location.network = torch.compile(task.model.location.network, dynamic=False)
    stamps = [stamp()]
    fit(task, config, None, on_step=lambda _: stamps.append(stamp()))
    return np.diff(stamps, axis=0)


@dataclass
class Side:
    """One implementation of the step: its GEMMs and a function timing one epoch of it."""

    name: str
    gemms: list[tuple[int, int, int]]
    epoch: Callable[[], np.ndarray]
    flops: float = 0.0
    cpu_rates: list[float] = field(default_factory=list)  # steps per CPU-second, one per repeat
    wall_rates: list[float] = field(default_factory=list)
    limits: list[float] = field(default_factory=list)  # matmul FLOP/s of its GEMMs, one per repeat
    first_steps: list[float] = field(default_factory=list)  # wall seconds of each repeat's first step
    faults: list[float] = field(default_factory=list)  # minor page faults per steady step

    def measure(self) -> None:
        """Time the plain GEMMs, then one epoch (steady steps: the first two and the last left out)."""
        self.flops = gemm_flops(self.gemms)
        self.limits.append(self.flops / matmul_seconds(self.gemms, repeats=5))
        steps = self.epoch()
        cpu, wall, faults = steps[2:-1].mean(axis=0)
        self.cpu_rates.append(1.0 / cpu)
        self.wall_rates.append(1.0 / wall)
        self.first_steps.append(float(steps[0, 1]))
        self.faults.append(float(faults))


def side_by_side(args: argparse.Namespace) -> None:
    """The ``--csp`` mode: our training step against the reference's, and each against matmul."""
    reference = load_reference(Path(args.csp))
    location = {
        "encoding": "theory", "encoding_params": {"num_scales": args.scales}, "network": "mlp",
        "network_params": {"hidden_dim": args.hidden, "num_hidden_layers": 1, "act": args.act}, "output_dim": 256,
    }
    config = RunConfig.from_dict(
        {"epochs": 1, "batch_size": args.batch, "location": location, "data": {"image_encoder": args.encoder}}
    )
    data = load_feature_data(config.data)
    network = build_task(config, data).model.location.network
    linears = tuple((m.in_features, m.out_features) for m in network.modules() if isinstance(m, nn.Linear))
    shape = StepShape(config.batch_size, config.pretrain.num_negatives, linears, data.feature_dim, 256)
    ours = replace(shape, shared_layers=1)  # mlp: its first Linear comes before its first dropout
    params = reference_params(args.scales, args.hidden, args.act, MCSSLWeights())
    sides = [
        Side("reference CSP (contsoftmax_loss)", step_gemms(shape), lambda: reference_step_times(reference, params, data, config)),
        Side("GeoCSP trainer (fit)", step_gemms(ours), lambda: our_step_times(config, data)),
    ]
    if args.compile:
        sides.append(Side("GeoCSP trainer, compiled network", step_gemms(ours), lambda: our_step_times(config, data, compiled=True)))

    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {int((data.splits == 'train').sum())} "
          f"training pairs, {data.feature_dim}-d {args.encoder} features; batch {args.batch}, theory {args.scales} scales, "
          f"network {' → '.join(str(i) for i, _ in linears)} → {linears[-1][1]}, {args.act}, dropout 0.5, 1 negative")
    for _ in range(args.repeats):  # alternating, so that every side meets the same load
        for side in sides:
            side.measure()
    print(f"{args.repeats} alternating repeats; time is this process's CPU time (one thread), wall-clock beside it")
    print(f"{'':<34}{'GFLOP':>6}{'steps/CPU-s':>12}{'median':>7}{'GFLOP/s':>8}{'matmul':>7}{'of mm':>6}"
          f"{'wall steps/s':>13}{'median':>7}{'cold 1st s':>11}{'faults':>7}")
    for side in sides:
        best, limit = max(side.cpu_rates), max(side.limits)
        print(f"{side.name:<34}{side.flops / 1e9:>6.2f}{best:>12.2f}{statistics.median(side.cpu_rates):>7.2f}"
              f"{best * side.flops / 1e9:>8.1f}{limit / 1e9:>7.1f}{best * side.flops / limit:>6.0%}"
              f"{max(side.wall_rates):>13.2f}{statistics.median(side.wall_rates):>7.2f}"
              f"{side.first_steps[0]:>11.2f}{statistics.median(side.faults):>7.0f}")
    print("GFLOP: matmul work of one step; matmul: plain torch.mm on the same GEMMs (best, GFLOP/s); "
          "of mm: the step's share of it; cold 1st s: wall time of the first repeat's first step (with any "
          "compilation); faults: minor page faults per step (new memory)")
    reference_side = sides[0]
    for side in sides[1:]:
        for clock, ours_rates, reference_rates in (("CPU", side.cpu_rates, reference_side.cpu_rates), ("wall", side.wall_rates, reference_side.wall_rates)):
            print(f"{side.name} / reference ({clock} time): best {max(ours_rates) / max(reference_rates):.2f}x, "
                  f"median {statistics.median(ours_rates) / statistics.median(reference_rates):.2f}x")
        ceiling = max(side.limits) / side.flops / max(reference_side.cpu_rates)
        print(f"{side.name}: a step running at 100 % of its matmul limit would be {ceiling:.2f}x the reference")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


def loop_baseline(args: argparse.Namespace) -> None:
    """The default mode: an epoch against the numpy-per-batch loop, then one default run."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 repeats instead of 3 (default mode)")
    parser.add_argument("--encoder", default="efficientnet_lite0_64px", help="image features to pre-train on")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (--csp mode: 1)")
    parser.add_argument("--csp", help="a checkout of gengchenmai/csp: compare the training step with its code")
    parser.add_argument("--repeats", type=int, default=5, help="--csp mode: alternating repeats")
    parser.add_argument("--batch", type=int, default=1024, help="--csp mode: batch size (the reference's default)")
    parser.add_argument("--scales", type=int, default=32, help="--csp mode: theory scales (the CSP scripts')")
    parser.add_argument("--hidden", type=int, default=512, help="--csp mode: hidden width (the CSP scripts')")
    parser.add_argument("--act", default="relu", help="--csp mode: activation (the reference's default)")
    parser.add_argument("--compile", action="store_true", help="--csp mode: also time our step with torch.compile(network)")
    args = parser.parse_args()
    threads = args.threads or (1 if args.csp else torch.get_num_threads())
    torch.set_num_threads(threads)
    run: Callable[[argparse.Namespace], None] = side_by_side if args.csp else loop_baseline
    run(args)


if __name__ == "__main__":
    main()

"""Feature-extraction speed on the default dataset's Blue Marble chips (EfficientNet-Lite0 at 64 px), one run.

1. Bare forward (preprocessed inputs, no I/O), images/s at batch 32…256: the package's model (TF
   "same" padding through padded copies, BatchNorm separate: the model before the speed-up) vs ours
   unfolded / BatchNorm-folded, NCHW / channels-last; with one torch thread (how each extraction
   worker runs) and with one intra-op thread per core (how the extraction ran before).
2. Pipeline (chips read, preprocessed, encoded) on the first ``--images`` chips: before (one loop,
   batch 256, intra-op threads, package model) vs now (``core.image.features``: one worker per core,
   batch 32, inference form), and preprocessing alone (its share of the pipeline).
3. ``--full``: ``python -m core.image extract``'s work end to end on all chips (fresh cache).
4. ``--compile``: ``torch.compile`` (inductor, freezing) of the inference form vs eager, with the time
   of a cold compile (empty cache); skipped with the reason where the machine cannot compile.
5. ``--encoders``: every registered encoder through the pipeline.

The machine may be shared: every section prints the load average; compare ratios within one run.

    python -m benchmarks.feature_extraction [--quick] [--images N] [--full] [--compile] [--encoders]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.data.default_dataset import load_default_dataset
from core.image.efficientnet import weights_path
from core.image.features import DEFAULT_BATCH_SIZE, available_threads, encoded_batches, extract_features
from core.image.inference import fold_batchnorm
from core.image.registry import ImageEncoder, get_image_encoder, list_image_encoders

ENCODER = "efficientnet_lite0_64px"
FORWARD_BATCHES = (32, 64, 128, 256)
BEFORE_BATCH = 256


class PackageEfficientNet(nn.Module):
    """EfficientNet-Lite0 exactly as ``efficientnet-lite-pytorch`` builds it, pooled: the model before the speed-up."""

    def __init__(self) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        self.net.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
        self.requires_grad_(False).eval()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(pixels).mean(dim=(2, 3))


class ChannelsLast(nn.Module):
    """A copy of ``model`` with channels-last weights and inputs, not folded."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixels.contiguous(memory_format=torch.channels_last))


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def fresh_compile_cache(directory: str) -> Iterator[None]:
    """Inductor compiles into the empty ``directory``: a cold compile, as on a fresh machine."""
    previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = directory
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TORCHINDUCTOR_CACHE_DIR"]
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous


def load() -> str:
    """The 1-minute load average, for the printed rows."""
    return f"{os.getloadavg()[0]:.1f}"


class Rate:
    """Images per second of wall time and per second of this process's CPU time, over a ``with`` block.

    Under load the wall rate drops with the CPU this process gets; images per CPU-second stay close
    to what a quiet machine gives per core (the figure to compare between configurations).
    """

    def __init__(self, images: int) -> None:
        self.images = images
        self.wall = self.cpu = float("nan")

    def __enter__(self) -> Rate:
        self._started = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        wall_started, cpu_started = self._started
        self.wall = self.images / (time.perf_counter() - wall_started)
        self.cpu = self.images / (time.process_time() - cpu_started)

    def __str__(self) -> str:
        return f"{self.wall:6.0f} ({self.cpu:5.0f})"


def forward_rate(model: nn.Module, pixels: torch.Tensor, batch_size: int) -> Rate:
    """The model's rate over all of ``pixels`` in batches, after one warm-up batch."""
    with torch.inference_mode():
        model(pixels[:batch_size])
        with Rate(len(pixels)) as rate:
            for start in range(0, len(pixels), batch_size):
                model(pixels[start : start + batch_size])
    return rate


def bare_forward(encoder: ImageEncoder, chips: np.ndarray) -> None:
    """Section 1: the model alone, by batch size, variant and threading."""
    pixels = encoder.spec.preprocessing(chips)
    variants: dict[str, nn.Module] = {
        "package NCHW": PackageEfficientNet(),
        "unfolded NCHW": encoder.model,
        "unfolded CL": ChannelsLast(encoder.model),
        "folded NCHW": fold_batchnorm(encoder.model),
        "folded CL": encoder.inference_model,
    }
    settings = [(1, list(variants)), (available_threads(), ["package NCHW", "folded CL"])]
    print(f"\n1. bare forward, {len(pixels)} preprocessed chips: images/s (per CPU-second); CL = channels-last")
    print(f"{'threads':>7s} {'batch':>5s}  " + "  ".join(f"{name:>14s}" for name in variants) + "  load")
    for threads, names in settings:
        with torch_threads(threads):
            for batch_size in FORWARD_BATCHES:
                cells = [
                    f"{forward_rate(variants[name], pixels, batch_size)!s:>14s}" if name in names else f"{'-':>14s}"
                    for name in variants
                ]
                print(f"{threads:7d} {batch_size:5d}  " + "  ".join(cells) + f"  {load()}", flush=True)


def pipeline_rate(encoder: ImageEncoder, chips: np.ndarray) -> Rate:
    """``core.image.features``' batch pipeline over ``chips`` (no disk writes), one worker per core."""
    with torch_threads(available_threads()):
        encoder.encode(chips[:DEFAULT_BATCH_SIZE])
        with Rate(len(chips)) as rate:
            for _ in encoded_batches(encoder, lambda start, stop: chips[start:stop], 0, len(chips)):
                pass
    return rate


def before_rate(encoder: ImageEncoder, chips: np.ndarray) -> Rate:
    """The extraction loop before the speed-up: batch 256, intra-op threads, package model."""
    model, preprocessing = PackageEfficientNet(), encoder.spec.preprocessing
    with torch_threads(available_threads()), torch.inference_mode():
        model(preprocessing(chips[:BEFORE_BATCH]))
        with Rate(len(chips)) as rate:
            for start in range(0, len(chips), BEFORE_BATCH):
                model(preprocessing(chips[start : start + BEFORE_BATCH])).numpy()
    return rate


def preprocessing_rate(encoder: ImageEncoder, chips: np.ndarray) -> Rate:
    """Reading and preprocessing alone, one thread, the pipeline's batch size."""
    with torch_threads(1), Rate(len(chips)) as rate:
        for start in range(0, len(chips), DEFAULT_BATCH_SIZE):
            encoder.spec.preprocessing(chips[start : start + DEFAULT_BATCH_SIZE])
    return rate


def pipeline(encoder: ImageEncoder, chips: np.ndarray) -> Rate:
    """Section 2; returns the before rate (the baseline of section 3)."""
    print(f"\n2. pipeline on the first {len(chips)} chips (read + preprocess + encode), images/s (per CPU-second)")
    before = before_rate(encoder, chips)
    cores = available_threads()
    print(f"   before: batch {BEFORE_BATCH}, {cores} intra-op threads, package model      {before}  load {load()}")
    now = pipeline_rate(encoder, chips)
    print(f"   now:    batch {DEFAULT_BATCH_SIZE}, {cores} workers × 1 thread, inference form  {now}  load {load()}")
    preprocess = preprocessing_rate(encoder, chips)
    print(
        f"   speed-up {now.wall / before.wall:.2f}× in wall time, {now.cpu / before.cpu:.2f}× per CPU-second; "
        f"preprocessing alone {preprocess.cpu:.0f} per CPU-second = {now.cpu / preprocess.cpu:.0%} "
        f"of the pipeline's CPU  load {load()}"
    )
    return before


def full_extraction(before: Rate) -> None:
    """Section 3: the default extraction end to end, into a fresh temporary cache."""
    dataset = load_default_dataset()
    print(f"\n3. default extraction end to end ({len(dataset)} chips, fresh cache)  load {load()}")
    with tempfile.TemporaryDirectory() as directory, torch_threads(available_threads()):
        with Rate(len(dataset)) as rate:
            extract_features(dataset, ENCODER, cache_dir=Path(directory))
    print(
        f"   {len(dataset) / rate.wall:.1f} s, {rate} images/s (per CPU-second); before, at section 2's rate: "
        f"{len(dataset) / before.wall:.0f} s; target < 90 s  load {load()}"
    )


def compiled(encoder: ImageEncoder, chips: np.ndarray) -> None:
    """Section 4: torch.compile of the inference form vs eager, one thread, the pipeline's batch size."""
    pixels = encoder.spec.preprocessing(chips)
    print(
        "\n4. torch.compile (inductor, freezing, empty compile cache) of the inference form, "
        f"1 thread, batch {DEFAULT_BATCH_SIZE}"
    )
    with torch_threads(1), tempfile.TemporaryDirectory() as cache, fresh_compile_cache(cache):
        eager = forward_rate(encoder.inference_model, pixels, DEFAULT_BATCH_SIZE).cpu
        try:
            model = torch.compile(encoder.inference_model, dynamic=False, options={"freezing": True})
            started = time.perf_counter()
            with torch.inference_mode():
                model(pixels[:DEFAULT_BATCH_SIZE])
            compile_seconds = time.perf_counter() - started
        except Exception as error:  # no C++ compiler, unsupported platform: eager is what runs anyway
            print(f"   unavailable here ({type(error).__name__}: {str(error)[:200]}); eager {eager:.0f} per CPU-second")
            return
        rate = forward_rate(model, pixels, DEFAULT_BATCH_SIZE).cpu
    gain = 1 / eager - 1 / rate
    pays_off = f"pays off after ≈{compile_seconds / gain:,.0f} images on one core" if gain > 0 else "never pays off"
    print(
        f"   per CPU-second: eager {eager:.0f}, compiled {rate:.0f} ({rate / eager:.2f}×) after "
        f"{compile_seconds:.0f} s of compilation: {pays_off}  load {load()}"
    )


def encoder_table(chips: np.ndarray) -> None:
    """Section 5: every registered encoder through the pipeline."""
    print(f"\n5. every encoder through the pipeline, {len(chips)} chips")
    print(f"   {'encoder':26s} {'input':>6s} {'dim':>5s} {'images/s (per CPU-s)':>21s}  load")
    for spec in list_image_encoders():
        rate = pipeline_rate(spec.load(), chips)
        print(f"   {spec.name:26s} {spec.input_size:>4d}px {spec.feature_dim:>5d} {rate!s:>21s}  {load()}")


def main(argv: list[str] | None = None) -> None:
    """Print the sections chosen on the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="256 chips per measurement (a smoke run)")
    parser.add_argument("--images", type=int, default=2048, help="chips for sections 1, 2, 4, 5 (default 2048)")
    parser.add_argument("--full", action="store_true", help="also extract all chips end to end (section 3)")
    parser.add_argument("--compile", action="store_true", help="also try torch.compile (section 4; slow to compile)")
    parser.add_argument("--encoders", action="store_true", help="also time every registered encoder (section 5)")
    args = parser.parse_args(argv)

    dataset = load_default_dataset()
    count = min(len(dataset), 256 if args.quick else args.images)
    chips = np.asarray(dataset.chips["bluemarble"][:count])
    encoder = get_image_encoder(ENCODER).load()
    print(
        f"torch {torch.__version__}, {available_threads()} cores, {count} chips of {chips.shape[1]} px → {ENCODER}; "
        f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())} (shared machine: compare within a run)"
    )
    bare_forward(encoder, chips[: min(count, 512)])
    before = pipeline(encoder, chips)
    if args.full:
        full_extraction(before)
    if args.compile:
        compiled(encoder, chips[: min(count, 512)])
    if args.encoders:
        encoder_table(chips[: min(count, 256)])


if __name__ == "__main__":
    main()

"""A short check of GeoCSP on a CUDA device (under 5 minutes on one GPU beside 16 CPU cores):

1. image feature extraction of the default dataset on the GPU (fp16 autocast) against the CPU features of the same
   images: images/s on each, peak GPU memory, and the agreement of the features (cosine per image, largest
   absolute difference);
2. the default pre-training run on the CPU (fp32) and on the GPU in fp32, bf16 and fp16 (``train.device``,
   ``train.precision``): steps/s, peak GPU memory, losses and test retrieval side by side, then the linear probes
   of the four encoders on the embedded tasks (same folds);
3. the geolocation evaluation (``python -m core geolocate``'s) of the CPU and the GPU fp32 runs on the same test
   images.

Every run draws the same batches and negatives (they are drawn on the CPU with the run's seed), so the CPU and GPU
fp32 runs differ only by floating-point arithmetic. On a machine without CUDA it says so and exits 0.

    python -m benchmarks.device_check [--skip-training] [--points 1000] [--images 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.precision import print_variants, probe_variants, train_variants
from benchmarks.timing import load_text
from core.data.default_dataset import load_default_dataset
from core.image.features import extract_features

ENCODER = "efficientnet_lite0_64px"
TRAINING = {
    "CPU fp32": ["train.device=cpu", "train.precision=fp32"],
    "GPU fp32": ["train.device=cuda", "train.precision=fp32"],
    "GPU bf16": ["train.device=cuda", "train.precision=bf16"],
    "GPU fp16": ["train.device=cuda", "train.precision=fp16"],
}
GEOLOCATION_COLUMNS = ("≤ 200 km (%)", "≤ 750 km (%)", "≤ 2500 km (%)", "median km")


def extraction(dataset, device: str, cache: Path) -> tuple[np.ndarray, float]:
    """Features of ``dataset`` extracted afresh on ``device`` (into ``cache``) and the images per second."""
    started = time.perf_counter()
    features = np.asarray(extract_features(dataset, ENCODER, cache_dir=cache, device=device))
    return features, len(dataset) / (time.perf_counter() - started)


def check_extraction() -> None:
    """Part 1: GPU against CPU feature extraction."""
    dataset = load_default_dataset()
    with tempfile.TemporaryDirectory(prefix="device-check-") as scratch:
        torch.cuda.reset_peak_memory_stats()
        gpu, gpu_rate = extraction(dataset, "cuda", Path(scratch) / "cuda")
        peak = torch.cuda.max_memory_allocated() / 2**20
        cpu, cpu_rate = extraction(dataset, "cpu", Path(scratch) / "cpu")
    cosine = (gpu * cpu).sum(1) / np.maximum(np.linalg.norm(gpu, axis=1) * np.linalg.norm(cpu, axis=1), 1e-12)
    print(f"extraction of {len(dataset):,} images ({ENCODER}): GPU (fp16 autocast) {gpu_rate:,.0f} images/s, "
          f"CPU {cpu_rate:,.0f} images/s ({gpu_rate / cpu_rate:.1f}x); peak GPU memory {peak:,.0f} MiB")
    print(f"GPU vs CPU features: cosine min {cosine.min():.5f}, median {np.median(cosine):.6f}; "
          f"max |difference| {np.abs(gpu - cpu).max():.4f} (feature scale {np.abs(cpu).mean():.4f})", flush=True)


def check_training(points: int, images: int) -> None:
    """Parts 2 and 3: the default run on the CPU and the GPU, its probes and its geolocation."""
    from core.workflows.geolocate import Geolocator
    from core.workflows.geolocation_eval import evaluate_geolocation

    trained = train_variants(TRAINING, Path(tempfile.mkdtemp(prefix="device-check-runs-")))
    print_variants(trained)
    cpu, gpu = trained[0], trained[1]
    print(f"\nCPU vs GPU fp32: first-epoch train loss {cpu.first_train_loss:.5f} vs {gpu.first_train_loss:.5f}; test loss "
          f"{cpu.metrics['test_loss']:.5f} vs {gpu.metrics['test_loss']:.5f}; speed-up {gpu.steps_per_second / cpu.steps_per_second:.1f}x",
          flush=True)
    probe_variants(trained, points)

    print(f"\ngeolocation of {images:,} test images (same images; CSP grid · top-1 and the image nearest neighbour)")
    print("| run | " + " | ".join(GEOLOCATION_COLUMNS) + " | seconds |")
    print("|---|" + "---:|" * (len(GEOLOCATION_COLUMNS) + 1))
    for run in (cpu, gpu):
        started = time.perf_counter()
        report = evaluate_geolocation(Geolocator(run.run_dir), "test", limit=images, gallery=False)
        seconds = time.perf_counter() - started
        for method in ("CSP grid · top-1", "image nearest neighbour (Im2GPS)"):
            values = " | ".join(f"{report.rows[method][column]:,.1f}" for column in GEOLOCATION_COLUMNS)
            print(f"| {run.label}: {method} | {values} | {seconds:.0f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-training", action="store_true", help="only the extraction check")
    parser.add_argument("--points", type=int, default=1000, help="probe points per embedded task")
    parser.add_argument("--images", type=int, default=1000, help="test images for the geolocation check")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"no CUDA device visible to torch {torch.__version__} (CUDA build: {torch.version.cuda}): nothing to check here.")
        return 0
    print(f"{torch.cuda.get_device_name()} · torch {torch.__version__} · CUDA {torch.version.cuda} · {load_text()}", flush=True)
    check_extraction()
    if not args.skip_training:
        check_training(args.points, args.images)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

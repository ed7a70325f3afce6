"""A short check of GeoCSP on a CUDA device (under 5 minutes): image feature extraction of the default dataset on
the GPU in mixed precision against the CPU features of the same images — images/s on each, peak GPU memory,
and the agreement of the features (cosine similarity per image, and the largest absolute difference).
Then mixed-precision CSP pre-training (``train.precision``) in fp32 and bf16 on the CPU (training places its
model on the CPU: it has no device option yet), for the losses side by side.

On a machine without CUDA it says so and exits 0.

    python -m benchmarks.device_check [--skip-training]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.timing import load_text
from core.data.default_dataset import load_default_dataset
from core.image.features import extract_features

ENCODER = "efficientnet_lite0_64px"


def extraction(dataset, device: str, cache: Path) -> tuple[np.ndarray, float]:
    """Features of ``dataset`` extracted afresh on ``device`` (into ``cache``) and the images per second."""
    started = time.perf_counter()
    features = np.asarray(extract_features(dataset, ENCODER, cache_dir=cache, device=device))
    return features, len(dataset) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-training", action="store_true", help="only the extraction check")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"no CUDA device visible to torch {torch.__version__} (CUDA build: {torch.version.cuda}): nothing to check here.")
        return 0
    print(f"{torch.cuda.get_device_name()} · torch {torch.__version__} · CUDA {torch.version.cuda} · {load_text()}", flush=True)

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

    if not args.skip_training:
        from benchmarks.default_encoder import pretrain_default
        from core.train.records import read_run

        for precision in ("fp32", "bf16"):
            with tempfile.TemporaryDirectory(prefix="device-check-run-") as scratch:
                run_dir, _, wall, _ = pretrain_default([f"train.precision={precision}"], Path(scratch) / "run")
                metrics = read_run(run_dir).metrics
                print(f"pre-training {precision} (CPU): {wall:.1f} s, test loss {metrics['test_loss']:.4f}, "
                      f"test retrieval top-1 {metrics['test_retrieval_top1']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

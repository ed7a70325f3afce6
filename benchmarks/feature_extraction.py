"""Feature-extraction throughput (images/s) on the embedded default dataset's Blue Marble chips.

Times the extraction hot loop — chips read from the memory map, preprocessed in torch, encoded —
for EfficientNet-Lite0 at its native 224 px and at 64 px, ResNet-18 at 64 px and the small CNN at
32 px. ``--quick`` uses few images (a smoke run); figures depend on the machine and its load.

    python -m benchmarks.feature_extraction [--quick] [--images N] [--batch-size B]
"""

from __future__ import annotations

import argparse
import time

import torch

from core.data.default_dataset import load_default_dataset
from core.image.features import available_threads
from core.image.registry import get_image_encoder

ENCODERS = ("efficientnet_lite0", "efficientnet_lite0_64px", "resnet18", "small_cnn")


def images_per_second(encoder_name: str, chips, batch_size: int) -> float:
    """Throughput of ``encode`` over ``chips`` in batches, after one warm-up batch."""
    encoder = get_image_encoder(encoder_name).load()
    encoder.encode(chips[:batch_size])
    started = time.perf_counter()
    for start in range(0, len(chips), batch_size):
        encoder.encode(chips[start : start + batch_size])
    return len(chips) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    """Print one row per encoder: input size, feature dim, images/s, ms per image."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="64 images per encoder")
    parser.add_argument("--images", type=int, default=1024, help="images per encoder (default 1024)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    dataset = load_default_dataset()
    count = min(len(dataset), 64 if args.quick else args.images)
    chips = dataset.chips["bluemarble"][:count]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads ({available_threads()} cores), "
        f"{count} chips of {chips.shape[1]} px, batch {args.batch_size}"
    )
    print(f"{'encoder':26s} {'input':>6s} {'dim':>5s} {'images/s':>9s} {'ms/image':>9s}")
    for name in ENCODERS:
        spec = get_image_encoder(name)
        rate = images_per_second(name, chips, args.batch_size)
        print(f"{name:26s} {spec.input_size:>4d}px {spec.feature_dim:>5d} {rate:>9.1f} {1000 / rate:>9.2f}")


if __name__ == "__main__":
    main()

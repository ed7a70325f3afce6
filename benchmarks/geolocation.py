"""Speed of "Where was this taken?": one photo scored against the global H3 grid with a CSP run's dual encoder.

Target (issue 12): one photo against the 41 162 cells of resolution 3 in < 0.3 s on 2 cores, with the location
side (the grid's cells, centres, areas and location embeddings) cached per run. Measured, as medians over the
repeats, for the photo's features (then also from its pixels, through the run's image encoder): scoring with
the cached location side, including what the app reads of the result (top-5, the 50 % and 90 % credible
regions, the weighted mean); the baseline in the same run, the same call with the location side recomputed
(what an uncached implementation pays per photo); the image-marginal correction Z(x) (computed once per run
and τ, then cached like the location side); a batch of photos; coarse-to-fine refinement to resolutions 5 and
7; and the training-locations gallery. Speed depends on the run's architecture, not on how well it was
trained: without ``--run`` a 1-epoch pre-training run of the default location encoder on small-CNN features
is trained in a temporary folder first.

    python -m benchmarks.geolocation [--run RUN] [--threads 2] [--repeat 5] [--batch 256]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.timing import median_seconds
from core.workflows.geolocate import GallerySpec, Geolocation, Geolocator, GridSpec
from core.train.config import RunConfig
from core.train.data import open_dataset
from core.train.runner import run

TARGET_S = 0.3



def read_out(result: Geolocation) -> None:
    """What the app shows of a result: top-5, the 50 % and 90 % credible regions, the weighted mean."""
    result.top(5)
    result.credible_region(0.5)
    result.credible_region(0.9)
    result.weighted_mean()


def tiny_run(directory: Path) -> Path:
    """A 1-epoch CSP pre-training run (default location encoder, small-CNN features) in ``directory``."""
    config = RunConfig.from_dict({"stage": "pretrain", "epochs": 1, "data": {"image_encoder": "small_cnn"}})
    return run(config, directory / "pretrain").run_dir


def measure(run_dir: Path, repeat: int, batch: int) -> dict[str, float]:
    """Seconds (or photos per second) of each case, see the module docstring."""
    geolocator = Geolocator(run_dir)
    data = geolocator.data
    photo = data.features[:1]
    pixels = [open_dataset(geolocator.config.data).load_image(0)]  # an image of the run's dataset
    started = time.perf_counter()
    geolocator.grid(3)
    cold = time.perf_counter() - started

    def uncached() -> None:
        fresh = Geolocator(run_dir, data=data)
        read_out(fresh.locate(photo)[0])

    figures = {
        "location side (once per run)": cold,
        "one photo, cached": median_seconds(lambda: read_out(geolocator.locate(photo)[0]), repeat),
        "one photo from pixels, cached": median_seconds(lambda: read_out(geolocator.locate_images(pixels)[0]), repeat),
        "baseline: one photo, location side recomputed": median_seconds(uncached, max(1, repeat // 2)),
        "one photo refined to res 5": median_seconds(lambda: read_out(geolocator.locate(photo, GridSpec(5))[0]), repeat),
        "one photo refined to res 7": median_seconds(lambda: read_out(geolocator.locate(photo, GridSpec(7))[0]), repeat),
    }
    started = time.perf_counter()
    geolocator.locate(photo, normalise=True)
    figures["image marginal Z(x) of the grid (once per run and τ)"] = time.perf_counter() - started
    figures["one photo ÷ Z(x), cached"] = median_seconds(lambda: read_out(geolocator.locate(photo, normalise=True)[0]), repeat)
    geolocator.gallery(3)
    figures["one photo vs the gallery, cached"] = median_seconds(lambda: read_out(geolocator.locate(photo, GallerySpec(3))[0]), repeat)
    features = data.features[:batch]
    batch_s = median_seconds(lambda: [result.top(1) for result in geolocator.locate(features)], max(1, repeat // 2))
    figures[f"batch of {len(features)} photos (photos/s)"] = len(features) / batch_s
    return figures


def main(argv: list[str] | None = None) -> None:
    """Print each figure, the ratio to the uncached baseline and whether the target is met."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=None, help="a CSP pre-training run (default: train a 1-epoch one)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the target is for 2 cores)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()}, torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run or tiny_run(Path(scratch))
        figures = measure(run_dir, args.repeat, args.batch)
    for name, value in figures.items():
        unit = "" if "photos/s" in name else " s"
        print(f"{name:56s} {value:9.3f}{unit}")
    cached = figures["one photo, cached"]
    print(f"uncached baseline / cached: {figures['baseline: one photo, location side recomputed'] / cached:.1f}x")
    verdict = "met" if cached < TARGET_S else "NOT met"
    print(f"target: one photo vs the res-3 grid (41 162 cells) < {TARGET_S} s, location side cached: {verdict} ({cached:.3f} s)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

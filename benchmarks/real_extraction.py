"""Extraction of real-size fMoW-layout JPEGs (0.5, 2, 12, 52 MP): the whole pipeline vs the encoder alone.

Generates, at run time, an fMoW-rgb folder (``train/airport/airport_<site>/airport_<site>_<k>_rgb.jpg``
+ JSON with a ``bounding_boxes`` box) of textured JPEGs at each size in a temporary folder (copies of
a few distinct files, so generating stays fast; generated in a child process so this process's peak
memory is the extraction's), then for each size, in the same run (0.5 MP is iNat2018's size: its
images are at most 800 px):

1. decoding alone: seconds per image for the 64 px centre square and for a 224 px box crop
   (target for 52 MP at 224 px: < 0.15 s);
2. encoder only: images/s of the encoder (``--encoder``, default EfficientNet-Lite0 at 64 px) on
   pre-decoded uint8 squares of its input size (the extraction's encoding threads, no decoding);
3. the pipeline: ``core.image.features.extract_features`` end to end (decoding workers, box crops,
   encoding, memory-mapped writing) on a fresh cache: images/s over the second half of the images
   (model load, worker start and prefetch behind it), its ratio to (2) (target ≥ 70 %), and the
   whole time with start-up;
4. CPU seconds per image of the encoder and of decoding the box crop at its input size: on an idle
   machine the pipeline's share of the encoder-only rate is at most encoder / (encoder + decoding);
5. peak memory: proportional set size (PSS: pages shared by forked workers counted once) of this
   process plus its decoding workers, sampled every 20 ms during the extraction (target < 2 GB).

The machine may be shared: the load average is printed with every figure.

    python -m benchmarks.real_extraction [--images N] [--sizes 0.5,2,12,52] [--workers W] [--encoder NAME]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from benchmarks.timing import load_text
from core.data.base import CROP_COLUMNS
from core.data.fmow import load_fmow
from core.image.crops import CropOptions, decode_square
from core.image.features import available_threads, encoded_batches, extract_features
from core.image.registry import get_image_encoder

ENCODER = "efficientnet_lite0_64px"
#: Width × height of each size class: an iNat2018 image, a 2 MP photo, a 12 MP frame, fMoW's largest image.
SIZES = {"0.5": (800, 600), "2": (1632, 1224), "12": (4000, 3000), "52": (8200, 6312)}
DISTINCT = 4  # distinct files per size; the rest are copies



def textured(width: int, height: int, seed: int) -> Image.Image:
    """A JPEG-realistic texture: smooth blobs plus fine noise (compresses like aerial imagery, ~1-3 bits/pixel)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    noise = rng.integers(-8, 9, (height, width, 1), dtype=np.int16)
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8))


def build_fmow(root: Path, megapixels: str, count: int) -> None:
    """``count`` images of one size in the fMoW-rgb layout, each with a box of a quarter of the image."""
    width, height = SIZES[megapixels]
    box = [width * 3 // 8, height * 3 // 8, width // 4, height // 4]
    sources = []
    for index in range(count):
        site = root / "train" / "airport" / f"airport_{index}"
        site.mkdir(parents=True, exist_ok=True)
        image_path = site / f"airport_{index}_0_rgb.jpg"
        if index < DISTINCT:
            textured(width, height, index).save(image_path, quality=90)
            sources.append(image_path)
        else:
            shutil.copyfile(sources[index % DISTINCT], image_path)
        metadata = {
            "raw_location": f"POLYGON (({index % 170} 10, {index % 170 + 0.01} 10, {index % 170 + 0.01} 10.01, {index % 170} 10))",
            "timestamp": "2016-05-01T10:00:00Z",
            "img_width": width,
            "img_height": height,
            "bounding_boxes": [{"category": "airport", "box": box, "ID": index}],
        }
        image_path.with_suffix(".json").write_text(json.dumps(metadata))


def with_boxes(dataset, root: Path):
    """The boxes of the JSONs as CROP_COLUMNS (where the loader does not fill them yet)."""
    if all(column in dataset.records.columns for column in CROP_COLUMNS):
        return dataset
    boxes = [json.loads((root / image).with_suffix(".json").read_text())["bounding_boxes"][0]["box"] for image in dataset.records["image"]]
    dataset.records[list(CROP_COLUMNS)] = pd.DataFrame(boxes, columns=list(CROP_COLUMNS), dtype=float)
    return dataset


def decode_seconds(path: Path, box: np.ndarray | None, size: int, repeats: int = 5) -> tuple[float, float]:
    """Median wall and CPU seconds to decode ``path`` to a ``size`` square (box crop or centre square)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        decode_square(str(path), box, size, 1.0, CropOptions())
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu))


class Timeline:
    """Progress callback noting when each batch was written."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def __call__(self, fraction: float, message: str) -> None:
        if "features:" in message:
            self.points.append((time.perf_counter(), fraction))

    def second_half(self, count: int) -> float | None:
        """Images/s over the batches written after half the images (start-up and prefetch are behind);
        None when fewer than four batches were written there."""
        later = [point for point in self.points if point[1] >= 0.5]
        if len(later) < 4:
            return None
        (t0, f0), (t1, f1) = later[0], later[-1]
        return (f1 - f0) * count / (t1 - t0)


def encoder_only(name: str, count: int) -> tuple[float, float]:
    """Images/s of the encoding threads on pre-decoded squares of the input size, and CPU seconds per image."""
    encoder = get_image_encoder(name).load()
    size = encoder.spec.input_size
    squares = np.random.default_rng(0).integers(0, 255, (count, size, size, 3), dtype=np.uint8)
    for _ in encoded_batches(encoder, lambda a, b: squares[a:b], 0, min(count, 64)):  # warm-up
        pass
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in encoded_batches(encoder, lambda a, b: squares[a:b], 0, count):
        pass
    return count / (time.perf_counter() - start), (time.process_time() - start_cpu) / count


def _pss_mib(pid: str) -> float:
    """Proportional set size of a process (shared pages split among their sharers), MiB; 0 once it ended."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children() -> list[str]:
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            pids += (task / "children").read_text().split()
        except OSError:  # the thread ended
            pass
    return pids


class PeakMemory:
    """Samples the memory (PSS) of this process plus its children until stopped (MiB)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.peak = 0.0
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _pss_mib(str(os.getpid())) + sum(_pss_mib(pid) for pid in _children()))
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=384, help="images per class up to 2 MP (fewer for larger ones)")
    parser.add_argument("--sizes", default="0.5,2,12,52", help="megapixel classes, from 0.5, 2, 12, 52")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: extraction's default)")
    parser.add_argument("--encoder", default=ENCODER, help=f"image encoder (default {ENCODER})")
    args = parser.parse_args()
    size = get_image_encoder(args.encoder).input_size
    print(f"{available_threads()} cores; {args.encoder} ({size} px); {load_text()}")
    with tempfile.TemporaryDirectory(prefix="geocsp-real-extraction-") as directory:
        for megapixels in args.sizes.split(","):
            count = args.images if float(megapixels) <= 2 else max(8, int(args.images * 2 / float(megapixels)))
            root = Path(directory) / f"fmow-{megapixels}mp"
            start = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(target=build_fmow, args=(root, megapixels, count))
            child.start()
            child.join()
            dataset = with_boxes(load_fmow(root, "train"), root)
            first = root / dataset.records["image"][0]
            box = dataset.records.loc[0, list(CROP_COLUMNS)].to_numpy(dtype=float)
            print(f"\n{megapixels} MP ({SIZES[megapixels][0]}×{SIZES[megapixels][1]}, {first.stat().st_size / 1e6:.1f} MB each): "
                  f"{count} images generated in {time.perf_counter() - start:.1f} s")  # fmt: skip
            (whole, whole_cpu), (crop, crop224_cpu) = decode_seconds(first, None, 64), decode_seconds(first, box, 224)
            crop_cpu = decode_seconds(first, box, size)[1]
            print(f"  decode alone (wall / CPU): 64 px centre square {whole * 1000:.0f} / {whole_cpu * 1000:.0f} ms, "
                  f"224 px box crop {crop * 1000:.0f} / {crop224_cpu * 1000:.0f} ms (target < 150 ms at 52 MP)  [{load_text()}]")  # fmt: skip
            baseline, encode_cpu = encoder_only(args.encoder, max(count, 256))
            timeline = Timeline()
            with PeakMemory() as memory:
                start = time.perf_counter()
                cache = Path(directory) / f"cache-{megapixels}"
                extract_features(dataset, args.encoder, cache_dir=cache, workers=args.workers, progress=timeline)
                seconds = time.perf_counter() - start
            steady = timeline.second_half(count)
            share = "too few images for a steady rate (raise --images)" if steady is None else (
                f"pipeline {steady:.1f} img/s over its second half = {steady / baseline:.0%} of it (target ≥ 70 %)"
            )
            print(f"  encoder only {baseline:.0f} img/s; {share}; {count} images in {seconds:.1f} s with start-up  [{load_text()}]")
            reachable = encode_cpu / (encode_cpu + crop_cpu)
            print(f"  CPU per image: encoder {encode_cpu * 1000:.1f} ms, decoding the box crop at {size} px {crop_cpu * 1000:.1f} ms: "
                  f"on an idle machine the pipeline can reach {reachable:.0%} of the encoder alone")  # fmt: skip
            print(f"  peak memory (PSS), this process + decoding workers: {memory.peak:.0f} MiB (target < 2048)")


if __name__ == "__main__":
    main()

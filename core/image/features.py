"""Image features of a whole dataset, cached on disk and resumable.

Features are written, batch by batch, into a memory-mapped ``.npy`` (float32 ``[N, D]``) beside a
JSON sidecar recording the cache identity (dataset fingerprint, view, encoder name, weights hash,
preprocessing) and how many rows are done. A complete entry is returned without running the model;
an interrupted one resumes at its first missing row. The embedded default dataset is read straight
from its memory-mapped chip arrays; other datasets decode their images with Pillow (which releases
the GIL). Each batch is read, preprocessed and encoded by one of ``torch.get_num_threads()`` worker
threads running one torch thread each (:mod:`core.image.workers`), with the encoder's inference
form (BatchNorm folded, channels-last: :mod:`core.image.inference`); batches are written in order.

The cache key names what the features are (data, view, weights as loaded, preprocessing), not how
they are computed: batch size, worker count and BatchNorm folding change the features only by
float32 rounding (folded vs unfolded EfficientNet-Lite0: max |Δ| ≈ 6e-5 on features in [0, 6], each
as close to a float64 reference as the other), so entries written before folding stay valid.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from core.data.base import GeoImageDataset
from core.data.default_dataset import DefaultDataset
from core.data.paths import cache_root
from core.image.preprocess import Images
from core.image.registry import ImageEncoder, get_image_encoder
from core.image.workers import map_in_order

FORMAT_VERSION = 1
DEFAULT_VIEW = "bluemarble"
#: Images per model call. Measured (``benchmarks/feature_extraction.py``, EfficientNet-Lite0 at
#: 64 px, one torch thread per worker): 32 is fastest; 128 and 256 fall out of the core's cache.
DEFAULT_BATCH_SIZE = 32
#: Finished rows are flushed and recorded at most this often (a flush costs milliseconds), and when
#: the extraction ends or is interrupted; a killed process redoes at most this much work.
SAVE_EVERY_SECONDS = 1.0

#: Progress callback: (fraction done in [0, 1], what is happening).
Progress = Callable[[float, str], None]
#: Loads the images of rows ``[start, stop)``.
BatchLoader = Callable[[int, int], Images]


def feature_cache_dir() -> Path:
    """Default folder of the feature cache (under the git-ignored data cache)."""
    return cache_root() / "features"


def available_threads() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def extract_features(
    dataset: GeoImageDataset,
    encoder_name: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
    view: str | None = None,
) -> np.ndarray:
    """Features ``[N, D]`` float32 (read-only memory map) of every image of ``dataset``.

    ``view`` picks the chip view of the default dataset (default Blue Marble); other datasets take
    None. Cached under ``cache_dir`` (default :func:`feature_cache_dir`); a repeated call is a cache
    hit, an interrupted one resumes. ``progress(fraction, message)`` is called after every batch
    (from the calling thread).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    report = progress or (lambda fraction, message: None)
    encoder = get_image_encoder(encoder_name).load()
    entry = _CacheEntry(cache_dir, _identity(dataset, encoder, view))
    total = len(dataset)
    if total == 0:
        return np.zeros((0, encoder.spec.feature_dim), dtype=np.float32)

    done = entry.rows_done(total, encoder.spec.feature_dim)
    if done == total:
        report(1.0, f"{encoder_name} features of {total} images loaded from the cache")
        return entry.read()
    report(done / total, f"{'resuming' if done else 'starting'} {encoder_name} features at image {done} of {total}")
    writer = _RowWriter(entry, entry.open_for_writing(done, total, encoder.spec.feature_dim), done)
    batches = encoded_batches(encoder, _batch_loader(dataset, view), done, total, batch_size)
    try:
        with contextlib.closing(batches):
            for start, stop, rows in batches:
                writer.write(start, stop, rows)
                report(stop / total, f"{encoder_name} features: {stop} of {total} images")
    finally:
        writer.save()
    return entry.read()


def encoded_batches(
    encoder: ImageEncoder, load: BatchLoader, start: int, stop: int, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Features of rows ``[start, stop)``, batch by batch and in order, as ``(first row, end row, features)``.

    Each batch is loaded, preprocessed and encoded by one of ``torch.get_num_threads()`` workers
    (one torch thread each). Close the iterator (:func:`contextlib.closing`) to stop early.
    """
    batches = [(first, min(stop, first + batch_size)) for first in range(start, stop, batch_size)]

    def encode(rows: tuple[int, int]) -> np.ndarray:
        return encoder.encode(load(*rows)).numpy()

    with contextlib.closing(map_in_order(encode, batches, torch.get_num_threads())) as encoded:
        for (first, end), features in zip(batches, encoded):
            yield first, end, features


def cached_features(
    dataset: GeoImageDataset, encoder_name: str, *, cache_dir: Path | None = None, view: str | None = None
) -> np.ndarray | None:
    """The complete cached features (read-only memory map), or None when not (fully) extracted yet."""
    encoder = get_image_encoder(encoder_name).load()
    entry = _CacheEntry(cache_dir, _identity(dataset, encoder, view))
    total = len(dataset)
    complete = total > 0 and entry.rows_done(total, encoder.spec.feature_dim) == total
    return entry.read() if complete else None


def _identity(dataset: GeoImageDataset, encoder: ImageEncoder, view: str | None) -> dict:
    """Everything the features depend on; its hash names the cache entry."""
    identity = {
        "format": FORMAT_VERSION,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint(),
        "view": None,
        "encoder": encoder.spec.name,
        "weights_sha256": encoder.weights_hash,
        "preprocessing": encoder.spec.preprocessing.key(),
        "feature_dim": encoder.spec.feature_dim,
    }
    if isinstance(dataset, DefaultDataset):
        identity["view"] = view = view or DEFAULT_VIEW
        if view not in dataset.chips:
            raise ValueError(f"unknown view {view!r}; the default dataset has {sorted(dataset.chips)}")
        identity["chips_sha256"] = dataset.manifest["files"][f"chips_{view}.npy"]["sha256"]
    elif view is not None:
        raise ValueError(f"view={view!r} applies only to the embedded default dataset, not {dataset.name!r}")
    return identity


def _batch_loader(dataset: GeoImageDataset, view: str | None) -> BatchLoader:
    """Rows ``[start, stop)`` as uint8 chips (default dataset's memory map) or decoded PIL images."""
    if isinstance(dataset, DefaultDataset):
        chips = dataset.chips[view or DEFAULT_VIEW]
        return lambda start, stop: chips[start:stop]
    return lambda start, stop: [dataset.load_image(index) for index in range(start, stop)]


class _RowWriter:
    """Fills an entry's array in row order; saves progress at most every ``SAVE_EVERY_SECONDS`` and on :meth:`save`."""

    def __init__(self, entry: _CacheEntry, array: np.memmap, done: int) -> None:
        self.entry, self.array = entry, array
        self.written = self.saved = done
        self.last_save = time.perf_counter()

    def write(self, start: int, stop: int, rows: np.ndarray) -> None:
        """Store rows ``[start, stop)``; ``start`` must be the first row not yet written."""
        self.array[start:stop] = rows
        self.written = stop
        if time.perf_counter() - self.last_save >= SAVE_EVERY_SECONDS:
            self.save()

    def save(self) -> None:
        """Flush the written rows to disk, then record them as done in the sidecar."""
        if self.written == self.saved:
            return
        self.array.flush()
        now = time.perf_counter()
        self.entry.record(self.written, now - self.last_save)
        self.saved, self.last_save = self.written, now


class _CacheEntry:
    """One cache entry: ``<encoder>-<key>.npy`` plus its ``.json`` sidecar in ``directory``."""

    def __init__(self, directory: Path | None, identity: dict) -> None:
        directory = Path(directory or feature_cache_dir())
        self.identity = identity
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]
        stem = f"{identity['encoder']}-{key}"
        self.array_path = directory / f"{stem}.npy"
        self.sidecar_path = directory / f"{stem}.json"

    def rows_done(self, rows: int, dim: int) -> int:
        """Rows already computed (0 when there is no usable entry)."""
        try:
            state = json.loads(self.sidecar_path.read_text())
            shape = np.load(self.array_path, mmap_mode="r").shape
        except (OSError, ValueError):
            return 0
        if state.get("identity") != self.identity or shape != (rows, dim) or state.get("rows") != rows:
            return 0
        return min(int(state.get("done", 0)), rows)

    def open_for_writing(self, done: int, rows: int, dim: int) -> np.memmap:
        """The array to fill: the existing one when resuming, else a new one (and a fresh sidecar)."""
        if done:
            return np.load(self.array_path, mmap_mode="r+")
        self.array_path.parent.mkdir(parents=True, exist_ok=True)
        array = np.lib.format.open_memmap(self.array_path, mode="w+", dtype=np.float32, shape=(rows, dim))
        self._write_sidecar({"rows": rows, "dim": dim, "done": 0, "seconds": 0.0})
        return array

    def record(self, done: int, seconds: float) -> None:
        """Note that rows ``[0, done)`` are on disk."""
        state = json.loads(self.sidecar_path.read_text())
        state.update(done=done, complete=done == state["rows"], seconds=round(state["seconds"] + seconds, 3))
        self._write_sidecar(state)

    def read(self) -> np.ndarray:
        """The stored features as a read-only memory map."""
        return np.load(self.array_path, mmap_mode="r")

    def _write_sidecar(self, state: dict) -> None:
        state = {**state, "identity": self.identity}
        temporary = self.sidecar_path.with_suffix(f".tmp-{os.getpid()}")
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, self.sidecar_path)

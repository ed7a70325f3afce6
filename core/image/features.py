"""Image features of a whole dataset, cached on disk, resumable and shardable across processes.

Features are written, batch by batch, into a memory-mapped ``.npy`` (float32 ``[N, D]``) beside a
JSON sidecar recording the cache identity (dataset fingerprint, view, encoder name, weights hash,
preprocessing, crop options) and how many rows are done. A complete entry is returned without
running the model; an interrupted one resumes at its first missing row. The embedded default
dataset is read straight from its memory-mapped chip arrays; other datasets' image files are
decoded in worker processes (:mod:`core.image.batches`: reduced JPEG decoding, fMoW box crops), and
a file that cannot be decoded is skipped (zero features) and listed in the sidecar's ``skipped``
(:func:`extraction_record`). Each batch is encoded by one of ``torch.get_num_threads()`` worker
threads running one torch thread each (:mod:`core.image.workers`), with the encoder's inference
form (BatchNorm folded, channels-last: :mod:`core.image.inference`), or on a GPU with mixed
precision; batches are written in order.

Under ``torchrun`` (an initialised ``torch.distributed`` group) rank ``r`` of ``W`` extracts rows
``[r·N/W, (r+1)·N/W)`` into its own resumable shard entry (its identity records ``r``, ``W`` and its
rows), so a group that ``torchrun --max-restarts`` restarts resumes each shard; rank 0 then merges the
shards into the one entry every reader opens. Shards of this entry left by an interrupted extraction
with another number of ranks are deleted (and said so), never mixed in.

The cache key names what the features are (data, view, weights as loaded, preprocessing), not how
they are computed: batch size, worker count and BatchNorm folding change the features only by
float32 rounding (folded vs unfolded EfficientNet-Lite0: max |Δ| ≈ 6e-5 on features in [0, 6], each
as close to a float64 reference as the other), so entries written before folding stay valid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from core.data.base import GeoImageDataset
from core.data.default_dataset import DefaultDataset
from core.data.paths import cache_root
from core.image.batches import DecodedImages, PixelBatch, Skipped, chip_batches, decoded_batches
from core.image.crops import CropOptions
from core.image.preprocess import Images
from core.image.registry import ImageEncoder, get_image_encoder
from core.image.workers import map_in_order
from core.ranks import sync_ranks

FORMAT_VERSION = 1
DEFAULT_VIEW = "bluemarble"
#: Images per model call. Measured (``benchmarks/feature_extraction.py``, EfficientNet-Lite0 at
#: 64 px, one torch thread per worker): 32 is fastest; 128 and 256 fall out of the core's cache.
DEFAULT_BATCH_SIZE = 32
#: Finished rows are flushed and recorded at most this often (a flush costs milliseconds), and when
#: the extraction ends or is interrupted; a killed process redoes at most this much work.
SAVE_EVERY_SECONDS = 1.0

#: Rows copied at a time when rank 0 merges the shards of a distributed extraction.
MERGE_ROWS = 65_536
#: Decoding worker processes at most, by default (one per core up to this).
MAX_DECODE_WORKERS = 8

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
    crop: CropOptions | None = None,
    device: str = "cpu",
    workers: int | None = None,
) -> np.ndarray:
    """Features ``[N, D]`` float32 (read-only memory map) of every image of ``dataset``.

    ``view`` picks the chip view of the default dataset (default Blue Marble); other datasets take
    None. ``crop`` says how records with an object box are cropped (default :class:`CropOptions`:
    the box with the fMoW baseline's context). ``device`` ``"cuda"`` encodes on the GPU in mixed
    precision (``"cpu"`` when none is present, said through ``progress``); ``workers`` decoding
    processes (default one per core, at most :data:`MAX_DECODE_WORKERS`; 0 decodes on the encoding
    threads). Cached under ``cache_dir`` (default :func:`feature_cache_dir`); a repeated call is a
    cache hit, an interrupted one resumes. ``progress(fraction, message)`` is called after every
    batch (from the calling thread). Inside a ``torch.distributed`` group every rank must call it;
    each extracts its slice and all return the merged features.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be 0 or more, got {workers}")
    report = progress or (lambda fraction, message: None)
    target = _resolve_device(device, report)
    encoder = get_image_encoder(encoder_name).load()
    entry = _CacheEntry(cache_dir, _identity(dataset, encoder, view, crop or CropOptions(), target))
    total, dim = len(dataset), encoder.spec.feature_dim
    if total == 0:
        return np.zeros((0, dim), dtype=np.float32)
    if entry.rows_done(total, dim) == total:
        report(1.0, f"{encoder_name} features of {total} images loaded from the cache")
        return entry.read()
    run = _Extraction(dataset, encoder, view, crop or CropOptions(), target, batch_size, workers, report)
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    bounds = [(total * r // world, total * (r + 1) // world) for r in range(world)]
    shards = [_CacheEntry(cache_dir, {**entry.identity, "shard": {"rank": r, "ranks": world, "rows": list(b)}}) for r, b in enumerate(bounds)]
    if rank == 0:
        _remove_stale_shards(entry, shards if world > 1 else [], report)
    if world == 1:
        run.fill(entry, 0, total)
        return entry.read()
    run.fill(shards[rank], *bounds[rank])
    sync_ranks("the end of the feature extraction")
    if rank == 0:
        entry.merge(shards, bounds, dim)
        report(1.0, f"rank 0 merged {world} shards into {entry.array_path.name}")
    sync_ranks("the merged features")
    return entry.read()


def _remove_stale_shards(entry: _CacheEntry, shards: list[_CacheEntry], report: Progress) -> None:
    """Delete the shards of ``entry`` left by an interrupted extraction with another shard layout (another
    number of ranks), which this one cannot resume, so they are never mixed in; say so through ``report``."""
    current = [shard.identity for shard in shards]
    for sidecar in sorted(entry.sidecar_path.parent.glob(f"{entry.identity['encoder']}-*.json")):
        try:
            state = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            continue
        identity = state.get("identity") if isinstance(state, dict) else None
        if not isinstance(identity, dict) or "shard" not in identity or identity in current:
            continue
        if {key: value for key, value in identity.items() if key != "shard"} != entry.identity:
            continue
        layout = identity["shard"]
        ranks = f"{layout['ranks']} rank(s)" if isinstance(layout, dict) else "another number of ranks"
        sidecar.with_suffix(".npy").unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        report(0.0, f"removed a shard of an earlier extraction by {ranks} ({state.get('done', 0)} rows, extracted again)")


def extraction_record(features: np.ndarray) -> dict:
    """The sidecar of the cache entry ``features`` were read from: ``rows``, ``seconds``, ``skipped``
    (a list of ``{"row", "image", "reason"}``) and ``identity``."""
    filename = getattr(features, "filename", None)
    if filename is None:
        return {"rows": len(features), "skipped": []}
    state = json.loads(Path(filename).with_suffix(".json").read_text())
    state.setdefault("skipped", [])
    return state


def _resolve_device(device: str, report: Progress) -> torch.device:
    """The torch device to encode on; CUDA requested without a GPU falls back to the CPU, said through ``report``."""
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be 'cpu' or 'cuda[:index]', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        report(0.0, f"no CUDA GPU is available (torch {torch.__version__}); encoding on the CPU instead")
        return torch.device("cpu")
    return torch.device(device)


class _Extraction:
    """One extraction's settings: fills a cache entry with the features of a row range."""

    def __init__(
        self,
        dataset: GeoImageDataset,
        encoder: ImageEncoder,
        view: str | None,
        crop: CropOptions,
        device: torch.device,
        batch_size: int,
        workers: int | None,
        report: Progress,
    ) -> None:
        self.dataset, self.encoder, self.view, self.crop = dataset, encoder, view, crop
        self.device, self.batch_size, self.report = device, batch_size, report
        self.workers = min(available_threads(), MAX_DECODE_WORKERS) if workers is None else workers
        self.cropped = not isinstance(dataset, DefaultDataset)  # decoded images come as input-size squares

    def fill(self, entry: _CacheEntry, start: int, stop: int) -> None:
        """Extract rows ``[start, stop)`` of the dataset into ``entry`` (whose row 0 is ``start``), resuming."""
        name, rows, dim = self.encoder.spec.name, stop - start, self.encoder.spec.feature_dim
        done = entry.rows_done(rows, dim)
        if done == rows:
            return
        self.report(done / rows, f"{'resuming' if done else 'starting'} {name} features at image {start + done} of {stop}")
        writer = _RowWriter(entry, entry.open_for_writing(done, rows, dim), done)
        batches = [(first, min(stop, first + self.batch_size)) for first in range(start + done, stop, self.batch_size)]
        items, load = self._sources(batches)

        def encode(item: object) -> tuple[PixelBatch, np.ndarray]:
            batch = load(item)
            return batch, self.encoder.encode(batch.pixels, device=self.device, cropped=self.cropped).numpy()

        skipped = 0
        try:
            with contextlib.closing(map_in_order(encode, items, self._encoding_threads())) as encoded:
                for batch, features in encoded:
                    features[[bad.row - batch.start for bad in batch.skipped]] = 0.0
                    writer.write(batch.start - start, batch.stop - start, features, batch.skipped)
                    skipped += len(batch.skipped)
                    for bad in batch.skipped:
                        self.report((batch.stop - start) / rows, f"skipped row {bad.row} ({bad.image}): {bad.reason}")
                    note = f", {skipped} skipped" if skipped else ""
                    self.report((batch.stop - start) / rows, f"{name} features: {batch.stop - start} of {rows} images{note}")
        finally:
            writer.save()

    def _sources(self, batches: list[tuple[int, int]]) -> tuple[Iterable, Callable[[object], PixelBatch]]:
        """What the encoding threads iterate over, and how each item becomes a :class:`PixelBatch`."""
        if isinstance(self.dataset, DefaultDataset):
            return chip_batches(self.dataset.chips[self.view or DEFAULT_VIEW], batches), lambda batch: batch
        spec = self.encoder.spec.preprocessing
        images = DecodedImages(self.dataset, batches, spec.size, spec.crop_fraction, self.crop)
        if self.workers == 0:  # decode on the encoding threads
            return range(len(images)), images.__getitem__
        return decoded_batches(images, self.workers), lambda batch: batch

    def _encoding_threads(self) -> int:
        return 1 if self.device.type == "cuda" else torch.get_num_threads()


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
    dataset: GeoImageDataset,
    encoder_name: str,
    *,
    cache_dir: Path | None = None,
    view: str | None = None,
    crop: CropOptions | None = None,
    device: str = "cpu",
) -> np.ndarray | None:
    """The complete cached features (read-only memory map), or None when not (fully) extracted yet."""
    encoder = get_image_encoder(encoder_name).load()
    target = _resolve_device(device, lambda fraction, message: None)
    entry = _CacheEntry(cache_dir, _identity(dataset, encoder, view, crop or CropOptions(), target))
    total = len(dataset)
    complete = total > 0 and entry.rows_done(total, encoder.spec.feature_dim) == total
    return entry.read() if complete else None


def _identity(dataset: GeoImageDataset, encoder: ImageEncoder, view: str | None, crop: CropOptions, device: torch.device) -> dict:
    """Everything the features depend on; its hash names the cache entry.

    Image-file datasets add how their images are cut (``crop``); mixed precision on a GPU, which
    changes features by more than float32 rounding, adds ``precision``.
    """
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
    else:
        identity["crop"] = crop.key()
    if device.type == "cuda":
        identity["precision"] = "float16-autocast"
    return identity


class _RowWriter:
    """Fills an entry's array in row order; saves progress at most every ``SAVE_EVERY_SECONDS`` and on :meth:`save`."""

    def __init__(self, entry: _CacheEntry, array: np.memmap, done: int) -> None:
        self.entry, self.array = entry, array
        self.written = self.saved = done
        self.skipped: list[Skipped] = []
        self.last_save = time.perf_counter()

    def write(self, start: int, stop: int, rows: np.ndarray, skipped: list[Skipped]) -> None:
        """Store rows ``[start, stop)`` (``skipped`` among them); ``start`` must be the first row not yet written."""
        self.array[start:stop] = rows
        self.written = stop
        self.skipped.extend(skipped)
        if time.perf_counter() - self.last_save >= SAVE_EVERY_SECONDS:
            self.save()

    def save(self) -> None:
        """Flush the written rows to disk, then record them (and the skipped ones) as done in the sidecar."""
        if self.written == self.saved:
            return
        self.array.flush()
        now = time.perf_counter()
        self.entry.record(self.written, now - self.last_save, [dataclasses.asdict(bad) for bad in self.skipped])
        self.saved, self.last_save, self.skipped = self.written, now, []


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
        self._write_sidecar({"rows": rows, "dim": dim, "done": 0, "seconds": 0.0, "skipped": []})
        return array

    def record(self, done: int, seconds: float, skipped: list[dict]) -> None:
        """Note that rows ``[0, done)`` are on disk, ``skipped`` (new ones) among them."""
        state = json.loads(self.sidecar_path.read_text())
        state.update(done=done, complete=done == state["rows"], seconds=round(state["seconds"] + seconds, 3))
        state["skipped"] = state.get("skipped", []) + skipped
        self._write_sidecar(state)

    def merge(self, shards: list[_CacheEntry], bounds: list[tuple[int, int]], dim: int) -> None:
        """Copy complete shard entries (rows ``bounds[i]`` each) into this entry, then delete them."""
        total = bounds[-1][1]
        states = [json.loads(shard.sidecar_path.read_text()) for shard in shards]
        for state, (start, stop), shard in zip(states, bounds, shards):
            if not state.get("complete") or state["rows"] != stop - start:
                raise RuntimeError(f"shard {shard.array_path} of rows [{start}, {stop}) is not complete")
        self.array_path.parent.mkdir(parents=True, exist_ok=True)
        merged = np.lib.format.open_memmap(self.array_path, mode="w+", dtype=np.float32, shape=(total, dim))
        for shard, (start, stop) in zip(shards, bounds):
            rows = shard.read()
            for first in range(0, stop - start, MERGE_ROWS):
                merged[start + first : start + min(stop - start, first + MERGE_ROWS)] = rows[first : first + MERGE_ROWS]
        merged.flush()
        skipped = sorted((bad for state in states for bad in state.get("skipped", [])), key=lambda bad: bad["row"])
        seconds = round(max(state["seconds"] for state in states), 3)
        state = {"rows": total, "dim": dim, "done": total, "complete": True, "seconds": seconds}
        self._write_sidecar({**state, "shards": len(shards), "skipped": skipped})
        for shard in shards:
            shard.array_path.unlink()
            shard.sidecar_path.unlink()

    def read(self) -> np.ndarray:
        """The stored features as a read-only memory map."""
        return np.load(self.array_path, mmap_mode="r")

    def _write_sidecar(self, state: dict) -> None:
        state = {**state, "identity": self.identity}
        temporary = self.sidecar_path.with_suffix(f".tmp-{os.getpid()}")
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, self.sidecar_path)

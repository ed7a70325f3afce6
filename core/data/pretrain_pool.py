"""An unlabelled pre-training pool for the embedded default dataset: many more places than the labelled
ones, one view each (CSP's premise: unlabelled geo-tagged images are abundant, labels are not).

Places are drawn on land (MODIS land cover ≠ water) with their own seed and kept only where they fall
in a *training* block of the default dataset's spatially blocked split, so pre-training never sees
an image from a validation or test block. Each place gets a 32 px chip of the run's view (Blue Marble
by default; all three aligned views when the run uses them all); the chips are encoded once by the
run's image encoder. Places and features are cached under
``data/cache/pretrain_pool/`` (a folder per pool identity), so a second run reads them in a second.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.coords import sample_land
from core.data.default_dataset import DefaultDataset, DefaultDatasetConfig, _cut_chips
from core.data.paths import cache_root
from core.data.sources import SOURCES, load_raster
from core.data.splits import spatial_blocks

Progress = Callable[[float, str], None]
POOL_VERSION = 1


@dataclass(frozen=True)
class PretrainPoolConfig:
    """``n_candidates`` land places are drawn (seeded); those in training blocks form the pool. A place's
    feature is its ``views``' image features side by side (the run's image side)."""

    n_candidates: int
    views: tuple[str, ...] = ("bluemarble",)
    seed: int = 1_000_003  # apart from the default dataset's (0) and the probe tasks' seeds


@dataclass(frozen=True)
class PretrainPool:
    """The pool's places ``[N, 2]`` (lon, lat) float32 and their image features ``[N, F]`` float32."""

    lonlat: np.ndarray
    features: np.ndarray
    key: str  # identity hash (recorded in the run's data fingerprint)


def pool_directory(key: str) -> Path:
    """Where a pool with identity hash ``key`` is cached."""
    return cache_root() / "pretrain_pool" / key


def load_pretrain_pool(
    dataset: DefaultDataset, config: PretrainPoolConfig, encoder_name: str, progress: Progress | None = None
) -> PretrainPool:
    """The pool for ``dataset``'s training blocks, built and encoded on the first call, then read from the cache."""
    report = progress or (lambda fraction, message: None)
    identity = {"version": POOL_VERSION, **asdict(config), "views": list(config.views), "encoder": encoder_name, "dataset": dataset.fingerprint()}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
    directory = pool_directory(key)
    if (directory / "done.json").is_file():
        report(1.0, "pre-training pool loaded from the cache")
        return PretrainPool(np.load(directory / "lonlat.npy"), np.load(directory / "features.npy", mmap_mode="r"), key)
    started = time.perf_counter()
    report(0.0, f"drawing {config.n_candidates} unlabelled places")
    lonlat = training_block_places(dataset, config)
    parts = []
    for position, view in enumerate(config.views):
        share = 0.95 / len(config.views)
        report(0.05 + position * share, f"cutting {len(lonlat)} {view} chips")
        chips = cut_view_chips(lonlat, view, dataset.manifest["config"]["chip_px"])
        parts.append(encode_chips(chips, encoder_name, lambda fraction, message: report(0.05 + (position + fraction) * share, message)))
    features = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "lonlat.npy", lonlat)
    np.save(directory / "features.npy", features)
    (directory / "done.json").write_text(json.dumps({**identity, "places": len(lonlat), "seconds": round(time.perf_counter() - started, 1)}))
    return PretrainPool(lonlat, features, key)


def training_block_places(dataset: DefaultDataset, config: PretrainPoolConfig) -> np.ndarray:
    """Land places (float32 ``[M, 2]``) drawn with the pool's seed, kept where their split block is a training block."""
    landcover = load_raster("landcover")
    candidates = sample_land(config.n_candidates, np.random.default_rng(config.seed), lambda points: landcover.sample(points) != 0)
    split = dataset.manifest["config"]
    scheme, resolution, block_deg = split["split_scheme"], split["split_resolution"], split["split_block_deg"]
    records = dataset.records
    train = records["split"].to_numpy() == "train"
    train_blocks = set(spatial_blocks(records[["lon", "lat"]].to_numpy(np.float64)[train], scheme, resolution, block_deg))
    blocks = spatial_blocks(candidates, scheme, resolution, block_deg)
    keep = np.fromiter((block in train_blocks for block in blocks), dtype=bool, count=len(blocks))
    return np.ascontiguousarray(candidates[keep], dtype=np.float32)


def cut_view_chips(lonlat: np.ndarray, view: str, chip_px: int) -> np.ndarray:
    """``[N, chip_px, chip_px, 3]`` uint8 chips of one view, cut like the default dataset's."""
    footprint = chip_px * 360.0 / SOURCES["bluemarble"].image_size()[0]
    return _cut_chips(load_raster(view), lonlat.astype(np.float64), footprint, DefaultDatasetConfig(chip_px=chip_px))


def encode_chips(chips: np.ndarray, encoder_name: str, progress: Progress) -> np.ndarray:
    """Image features ``[N, F]`` float32 of uint8 chips, in batches across the torch threads."""
    from core.image.features import encoded_batches
    from core.image.registry import get_image_encoder

    encoder = get_image_encoder(encoder_name).load()
    features = np.empty((len(chips), encoder.spec.feature_dim), dtype=np.float32)
    for start, stop, rows in encoded_batches(encoder, lambda first, end: chips[first:end], 0, len(chips)):
        features[start:stop] = rows
        progress(stop / len(chips), f"{encoder_name} features: {stop} of {len(chips)} pool chips")
    return features

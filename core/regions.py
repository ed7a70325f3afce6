"""Geographic boxes: named regions, user boxes and web-map views, all safe across the antimeridian."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.coords import wrap_longitude


@dataclass(frozen=True)
class BBox:
    """A (lon, lat) box in degrees; ``west > east`` means it crosses the antimeridian (e.g. 150 → -150)."""

    west: float
    south: float
    east: float
    north: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.south < self.north <= 90.0:
            raise ValueError(f"need -90 <= south < north <= 90, got south={self.south}, north={self.north}")
        if not all(-180.0 <= v <= 180.0 for v in (self.west, self.east)) or self.west == self.east:
            raise ValueError(f"west and east must differ and lie in [-180, 180], got {self.west}, {self.east}")

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    @property
    def width(self) -> float:
        """East-west extent in degrees (0..360)."""
        return self.east - self.west + (360.0 if self.crosses_antimeridian else 0.0)

    @property
    def center(self) -> tuple[float, float]:
        """(lon, lat) of the box centre, longitude wrapped."""
        return float(wrap_longitude(self.west + self.width / 2.0)), (self.south + self.north) / 2.0

    def contains(self, lonlat: np.ndarray) -> np.ndarray:
        """bool ``[N]``: which (lon, lat) rows lie inside the box."""
        lon, lat = lonlat[:, 0], lonlat[:, 1]
        east_of_west, west_of_east = lon >= self.west, lon <= self.east
        inside_lon = east_of_west | west_of_east if self.crosses_antimeridian else east_of_west & west_of_east
        return inside_lon & (lat >= self.south) & (lat <= self.north)

    def describe(self) -> str:
        """Human-readable edges, e.g. "150.0°E → 150.0°W, 50.0°S – 50.0°N"."""
        def lon(value: float) -> str:
            return f"{abs(value):.1f}°{'E' if value >= 0 else 'W'}"

        def lat(value: float) -> str:
            return f"{abs(value):.1f}°{'N' if value >= 0 else 'S'}"

        return f"{lon(self.west)} → {lon(self.east)}, {lat(self.south)} – {lat(self.north)}"


def bbox_from_view(west: float, south: float, east: float, north: float) -> BBox:
    """The region a web map shows as a :class:`BBox`.

    Web maps report unwrapped longitudes (panning east past 180° gives e.g. 170 → 200), so both edges
    are wrapped: a view across ±180° becomes a box with ``west > east``, and a view spanning 360° or
    more becomes every longitude. Latitudes are clipped to ±90. Raises ValueError for a non-finite or
    empty view.
    """
    edges = np.array([west, south, east, north], dtype=float)
    if not np.isfinite(edges).all() or east <= west or north <= south:
        raise ValueError(f"not a map view: west={west}, south={south}, east={east}, north={north}")
    south, north = max(south, -90.0), min(north, 90.0)
    if east - west >= 360.0:
        return BBox(-180.0, south, 180.0, north)
    west, east = wrap_longitude(west), wrap_longitude(east)
    return BBox(west, south, 180.0 if east == -180.0 else east, north)


#: Named regions; ``None`` is the whole world.
REGIONS: dict[str, BBox | None] = {
    "World": None,
    "Africa": BBox(-20.0, -36.0, 55.0, 38.0),
    "Asia": BBox(25.0, -12.0, 180.0, 80.0),
    "Europe": BBox(-25.0, 34.0, 45.0, 72.0),
    "North America": BBox(-170.0, 7.0, -50.0, 84.0),
    "South America": BBox(-92.0, -57.0, -32.0, 13.0),
    "Oceania": BBox(110.0, -50.0, 180.0, 0.0),
    "Pacific (across ±180°)": BBox(140.0, -50.0, -120.0, 60.0),
}

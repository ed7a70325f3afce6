"""A region drawn as polygons (from a user's vector file), usable wherever a :class:`core.regions.BBox` is.

Geometry is read in EPSG:4326 with planar (lon, lat) edges, as GIS tools draw it. A polygon crossing the
antimeridian arrives either split at ±180 (RFC 7946 GeoJSON) or with longitudes past ±180 (e.g. 170 → 190):
both are folded into one (Multi)Polygon within [-180, 180]. Multipart polygons and holes are kept.

:meth:`PolygonRegion.cells` is the H3 polyfill of the region: the cells whose centre lies inside it, as
:func:`h3.geo_to_cells` computes them, each part at most 180° wide so that h3 never reads it as wrapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import h3
import numpy as np
import shapely
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, box
from shapely.geometry.base import BaseGeometry

from core.gis.read import GISInputError, VectorLayer
from core.hexgrid import check_resolution
from core.regions import BBox

POLYGON_TYPES = ("Polygon", "MultiPolygon")
_HALVES = (box(-180.0, -90.0, 0.0, 90.0), box(0.0, -90.0, 180.0, 90.0))


def fold_into_world(geometry: BaseGeometry) -> BaseGeometry:
    """``geometry`` with every part past ±180° of longitude moved back by 360° and merged (world copies -2..2)."""
    pieces = [
        translate(geometry.intersection(box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)), xoff=-360.0 * k)
        for k in (-2, -1, 0, 1, 2)
    ]
    return shapely.union_all([piece for piece in pieces if not piece.is_empty])


def polygon_parts(geometry: BaseGeometry) -> list[shapely.Polygon]:
    """The polygons of ``geometry`` (points, lines and empty parts dropped)."""
    return [part for part in shapely.get_parts(shapely.get_parts(geometry)) if part.geom_type == "Polygon" and not part.is_empty]


def polyfill(geometry: BaseGeometry, resolution: int) -> list[str]:
    """Sorted H3 cells at ``resolution`` whose centre lies in ``geometry`` (EPSG:4326, within [-180, 180])."""
    resolution = check_resolution(resolution)
    cells: set[str] = set()
    for half in _HALVES:
        for part in polygon_parts(geometry.intersection(half)):
            cells.update(h3.geo_to_cells(part, resolution))
    return sorted(cells)


@dataclass(frozen=True)
class PolygonRegion:
    """Polygons (``wkb``: one (Multi)Polygon within [-180, 180] in EPSG:4326) named after their file."""

    name: str
    wkb: bytes

    @classmethod
    def from_geometry(cls, name: str, geometry: BaseGeometry) -> PolygonRegion:
        """The region of ``geometry``'s polygons, folded into [-180, 180]; GISInputError when it has none."""
        parts = polygon_parts(fold_into_world(shapely.make_valid(geometry)))
        if not parts:
            raise GISInputError(f"{name} has no polygon with an area")
        merged = shapely.union_all(parts)
        return cls(name, shapely.to_wkb(merged if merged.geom_type in POLYGON_TYPES else MultiPolygon(polygon_parts(merged))))

    @cached_property
    def geometry(self) -> BaseGeometry:
        """The (Multi)Polygon, prepared for fast point tests."""
        geometry = shapely.from_wkb(self.wkb)
        shapely.prepare(geometry)
        return geometry

    @property
    def bbox(self) -> BBox:
        """The narrowest box holding the region: it crosses the antimeridian when the widest gap between the
        parts' longitude ranges is not the one at ±180."""
        _, south, _, north = self.geometry.bounds
        spans = sorted(part.bounds[0::2] for part in polygon_parts(self.geometry))
        merged = [list(spans[0])]
        for west, east in spans[1:]:
            if west <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], east)
            else:
                merged.append([west, east])
        gaps = [(merged[0][0] + 360.0 - merged[-1][1], len(merged) - 1)]
        gaps += [(merged[i + 1][0] - merged[i][1], i) for i in range(len(merged) - 1)]
        _, before = max(gaps)
        west, east = merged[(before + 1) % len(merged)][0], merged[before][1]
        if west == east:
            west, east = -180.0, 180.0
        return BBox(west, south, east, north)

    def contains(self, lonlat: np.ndarray) -> np.ndarray:
        """bool ``[N]``: which (lon, lat) rows lie inside the region or on its boundary."""
        lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
        return shapely.intersects_xy(self.geometry, lonlat[:, 0], lonlat[:, 1])

    def cells(self, resolution: int) -> list[str]:
        """The region's H3 polyfill at ``resolution`` (see :func:`polyfill`)."""
        return polyfill(self.geometry, resolution)

    def describe(self) -> str:
        """E.g. "zones.gpkg: 2 polygons within 150.0°E → 150.0°W, 50.0°S – 50.0°N"."""
        count = len(polygon_parts(self.geometry))
        return f"{self.name}: {count} polygon{'s' if count != 1 else ''} within {self.bbox.describe()}"


def region_from_layer(layer: VectorLayer) -> PolygonRegion:
    """The union of the layer's polygons as one region; GISInputError when the layer has no polygons."""
    kinds = set(layer.frame.geometry.geom_type)
    polygons = layer.frame.geometry[layer.frame.geometry.geom_type.isin([*POLYGON_TYPES, "GeometryCollection"])]
    if polygons.empty:
        raise GISInputError(f"{layer.name} has no polygons (its geometries: {', '.join(sorted(kinds))}); a region needs polygons")
    return PolygonRegion.from_geometry(layer.name, shapely.union_all(polygons.to_numpy()))


def zones_from_layer(layer: VectorLayer) -> gpd.GeoDataFrame:
    """The layer's polygon features, each folded into [-180, 180] (its other columns kept); GISInputError without any."""
    frame = layer.frame[layer.frame.geometry.geom_type.isin(POLYGON_TYPES)].reset_index(drop=True)
    if frame.empty:
        kinds = ", ".join(sorted(set(layer.frame.geometry.geom_type)))
        raise GISInputError(f"{layer.name} has no polygons (its geometries: {kinds}); zones need polygons")
    return frame.set_geometry([PolygonRegion.from_geometry(layer.name, g).geometry for g in frame.geometry], crs=frame.crs)


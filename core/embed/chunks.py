"""A chunk of a user's points as every reader yields it: the input's own columns, the (lon, lat) to embed in
EPSG:4326, each row's number in the input, and whether it was embedded at a representative point.

:func:`chunk_from_geometry` turns geometries in any CRS into a chunk: points are embedded where they are,
lines, polygons and multipart geometries at a representative point (a point on the surface), and a missing
or empty geometry gives NaN coordinates, which the bad-row checks then list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS, Transformer

WGS84 = CRS.from_epsg(4326)
#: Values of the ``embedded_at`` column: where in its geometry a row was embedded.
AT_POINT, AT_REPRESENTATIVE = "point", "representative point"


class EmbedInputError(ValueError):
    """A points file (or an option) that cannot be embedded; the message names the file and why."""


@dataclass(frozen=True)
class PointChunk:
    """Consecutive rows of a points file.

    ``attributes``: the input's own columns (for a table without geometry, its coordinate columns too);
    ``lonlat``: float64 ``[n, 2]`` in EPSG:4326 (NaN where a row has none); ``rows``: each row's 0-based
    number in the input; ``geometry``: shapely geometries in EPSG:4326, or None when the coordinates are
    the attributes' own columns (CSV, a Parquet table of lon/lat); ``representative``: bool ``[n]``, rows
    whose geometry is not a point and is embedded at a representative point; ``wkb``: the input's own WKB of
    ``geometry`` when it needed no reprojection (the writers pass it through instead of encoding it again), or None.
    """

    attributes: pa.Table
    lonlat: np.ndarray
    rows: np.ndarray
    geometry: np.ndarray | None
    representative: np.ndarray
    wkb: pa.Array | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, keep: np.ndarray) -> PointChunk:
        """The rows where the bool mask ``keep`` is True."""
        positions = np.flatnonzero(keep)
        return PointChunk(
            self.attributes.take(pa.array(positions)), self.lonlat[positions], self.rows[positions],
            None if self.geometry is None else self.geometry[positions], self.representative[positions],
            None if self.wkb is None else self.wkb.take(pa.array(positions)),
        )

    @property
    def embedded_at(self) -> pa.Array:
        """The ``embedded_at`` column: "point" or "representative point" per row."""
        return pa.array(np.where(self.representative, AT_REPRESENTATIVE, AT_POINT), pa.string())


def to_wgs84(crs: CRS | None) -> Transformer | None:
    """A (lon, lat)-ordered transformer from ``crs`` to EPSG:4326, or None when ``crs`` is EPSG:4326 or OGC:CRS84."""
    if crs is None or crs.equals(WGS84, ignore_axis_order=True):
        return None
    return Transformer.from_crs(crs, WGS84, always_xy=True)


def chunk_from_geometry(
    attributes: pa.Table, geometry: np.ndarray, first_row: int, transformer: Transformer | None, wkb: pa.Array | None = None
) -> PointChunk:
    """A chunk of ``geometry`` (shapely, in the CRS ``transformer`` reads; None: EPSG:4326) with ``attributes``,
    whose first row is row ``first_row`` of the input; ``wkb``: the WKB ``geometry`` was decoded from, kept for
    the writers when no reprojection changes it."""
    geometry = np.asarray(geometry, dtype=object)
    if transformer is not None:
        geometry = shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    kinds = shapely.get_type_id(geometry)
    representative = (kinds > 0) & ~shapely.is_empty(geometry)  # 0: Point, -1: missing
    points = geometry.copy()
    points[representative] = shapely.point_on_surface(geometry[representative])
    located = ~(shapely.is_missing(points) | shapely.is_empty(points))
    lonlat = np.full((len(points), 2), np.nan)
    lonlat[located] = np.column_stack([shapely.get_x(points[located]), shapely.get_y(points[located])])
    rows = np.arange(first_row, first_row + len(geometry), dtype=np.int64)
    return PointChunk(attributes, lonlat, rows, geometry, representative, wkb if transformer is None else None)


def chunk_from_columns(attributes: pa.Table, lon: str, lat: str, first_row: int) -> PointChunk:
    """A chunk whose coordinates are the ``lon``/``lat`` columns of ``attributes`` (degrees, EPSG:4326); text that
    is not a number becomes NaN there (and a bad row), and both columns are written back as float64."""
    values = {name: pd.to_numeric(attributes.column(name).to_pandas(), errors="coerce").to_numpy(np.float64) for name in (lon, lat)}
    for name, column in values.items():
        attributes = attributes.set_column(attributes.schema.get_field_index(name), name, pa.array(column, pa.float64()))
    rows = np.arange(first_row, first_row + len(attributes), dtype=np.int64)
    return PointChunk(attributes, np.column_stack([values[lon], values[lat]]), rows, None, np.zeros(len(rows), dtype=bool))

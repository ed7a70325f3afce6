"""Per-place and per-hexagon tables as GIS layers: build them, then write GeoPackage, GeoParquet or GeoJSON.

:func:`points_layer` and :func:`hexagon_layer` turn any table (a mapping of column name to ``[N]`` values,
or ``[N, D]`` values for a list column such as an embedding) into a GeoDataFrame in EPSG:4326; H3 cells
are drawn with :func:`core.hexgrid.cell_polygon` (cells across ±180 as MultiPolygons). :func:`write_layer`
and :func:`layer_bytes` write through geopandas; GeoPackage and GeoJSON have no list type, so a list
column is written there as numbered columns (``embedding_0``, ``embedding_1``…), while GeoParquet keeps
it as a list. An empty table raises :class:`EmptyExportError` instead of writing an empty file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.gis.read import WGS84
from core.hexgrid import cell_polygon

#: Export formats: key → (name, file suffix, MIME type).
FORMATS: dict[str, tuple[str, str, str]] = {
    "gpkg": ("GeoPackage", ".gpkg", "application/geopackage+sqlite3"),
    "parquet": ("GeoParquet", ".parquet", "application/vnd.apache.parquet"),
    "geojson": ("GeoJSON", ".geojson", "application/geo+json"),
}
_SUFFIXES = {suffix: key for key, (_, suffix, _) in FORMATS.items()} | {".geoparquet": "parquet", ".json": "geojson"}


class EmptyExportError(ValueError):
    """Nothing to export: the selection has no rows."""


def _columns(columns: Mapping[str, ArrayLike], rows: int) -> pd.DataFrame:
    """A DataFrame of ``columns``; ``[N, D]`` arrays become list columns."""
    data = {}
    for name, values in columns.items():
        values = np.asarray(values) if not isinstance(values, pd.Series) else values.to_numpy()
        if len(values) != rows:
            raise ValueError(f"column {name!r} has {len(values)} values for {rows} rows")
        data[name] = list(values) if values.ndim == 2 else values
    return pd.DataFrame(data)


def points_layer(lonlat: ArrayLike, columns: Mapping[str, ArrayLike] | None = None) -> gpd.GeoDataFrame:
    """Points at the (lon, lat) rows of ``lonlat`` with ``columns``, in EPSG:4326."""
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    table = _columns(columns or {}, len(lonlat))
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=WGS84)


def hexagon_layer(cells: Sequence[str], columns: Mapping[str, ArrayLike] | None = None) -> gpd.GeoDataFrame:
    """H3 cells as polygons with a ``cell`` column, then ``columns``, in EPSG:4326."""
    cells = [str(cell) for cell in cells]
    table = _columns({"cell": np.array(cells, dtype=object), **(columns or {})}, len(cells))
    return gpd.GeoDataFrame(table, geometry=[cell_polygon(cell) for cell in cells], crs=WGS84)


def format_of(path: str | os.PathLike[str]) -> str:
    """The export format key of ``path``'s suffix (.gpkg, .parquet/.geoparquet, .geojson/.json)."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(f"{path}: write .gpkg (GeoPackage), .parquet (GeoParquet) or .geojson (GeoJSON)")
    return _SUFFIXES[suffix]


def _list_columns(frame: gpd.GeoDataFrame) -> list[str]:
    return [
        name for name in frame.columns
        if name != frame.geometry.name and frame[name].dtype == object and len(frame)
        and isinstance(frame[name].iloc[0], (list, tuple, np.ndarray))
    ]


def flatten_lists(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with each list column ``v`` spread into numbered columns ``v_0``, ``v_1``… in its place."""
    for name in _list_columns(frame):
        values = np.stack([np.asarray(v) for v in frame[name]])
        spread = pd.DataFrame(values, columns=[f"{name}_{i}" for i in range(values.shape[1])], index=frame.index)
        position = frame.columns.get_loc(name)
        frame = frame.drop(columns=name)
        for offset, column in enumerate(spread.columns):
            frame.insert(position + offset, column, spread[column])
    return frame


def write_layer(frame: gpd.GeoDataFrame, path: str | os.PathLike[str], layer: str = "geocsp") -> Path:
    """Write ``frame`` to ``path`` in the format its suffix names (see :data:`FORMATS`); the path written.

    Raises :class:`EmptyExportError` for a frame without rows and ValueError for an unknown suffix or a
    frame without a CRS.
    """
    fmt = format_of(path)
    if frame.empty:
        raise EmptyExportError(f"nothing to export to {Path(path).name}: the selection has no rows")
    if frame.crs is None:
        raise ValueError("the layer has no CRS")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        flat = flatten_lists(frame)
        path.unlink(missing_ok=True)  # GeoPackage would otherwise add a layer to an existing file
        flat.to_file(path, driver="GPKG" if fmt == "gpkg" else "GeoJSON", layer=layer if fmt == "gpkg" else None, engine="pyogrio")
    return path


def layer_bytes(frame: gpd.GeoDataFrame, fmt: str, layer: str = "geocsp") -> bytes:
    """The file :func:`write_layer` writes for format ``fmt`` (a :data:`FORMATS` key), as bytes (for downloads)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="geocsp-export-") as folder:
        return write_layer(frame, Path(folder) / f"{layer}{FORMATS[fmt][1]}", layer).read_bytes()

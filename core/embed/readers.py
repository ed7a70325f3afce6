"""Reading a user's points file in chunks, whatever its format, with memory bounded by the chunk size.

- CSV: pandas chunks; the longitude/latitude columns by the project's shared rules
  (:func:`core.data.columns.lonlat_columns`), the delimiter sniffed; the column types are those of the first
  chunk for the whole file, so every chunk has the same schema.
- GeoParquet: pyarrow record batches (a Parquet table without GeoParquet metadata is read like a CSV, by its
  lon/lat columns).
- GeoPackage, GeoJSON, zipped Shapefile, FlatGeobuf (and KML where GDAL reads it): pyogrio's Arrow stream,
  one pass over the layer in batches (``skip_features``/``max_features`` would re-scan the file from its
  start for every chunk of a GeoJSON or a Shapefile).

Every format is reprojected to EPSG:4326; a file without a CRS is taken as EPSG:4326 and the reader's
``notes`` say so.
"""

from __future__ import annotations

import csv
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
from pyproj import CRS

from core.data.columns import lonlat_columns
from core.embed import DEFAULT_CHUNK_SIZE
from core.embed.chunks import EmbedInputError, PointChunk, chunk_from_columns, chunk_from_geometry, to_wgs84

#: Input suffixes -> the format's name.
INPUT_FORMATS = {
    ".csv": "CSV", ".parquet": "GeoParquet", ".geoparquet": "GeoParquet", ".gpkg": "GeoPackage", ".geojson": "GeoJSON",
    ".json": "GeoJSON", ".zip": "zipped Shapefile", ".fgb": "FlatGeobuf", ".kml": "KML",
}


@dataclass
class PointsReader(ABC):
    """A points file opened for reading: its format, row count (None when unknown before reading) and notes."""

    path: Path
    format: str
    total: int | None
    notes: list[str] = field(default_factory=list)

    @abstractmethod
    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[PointChunk]:
        """The file's rows in order, ``chunk_size`` at a time."""


def open_points(path: str | Path) -> PointsReader:
    """A reader for the points file at ``path`` (its format by suffix); :class:`EmbedInputError` when the file is
    missing, of an unknown format, or lacks coordinates."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUT_FORMATS:
        raise EmbedInputError(f"{path}: not a points file this reads (expected one of {', '.join(sorted(INPUT_FORMATS))})")
    if path.is_dir():
        raise EmbedInputError(f"{path} is a folder: a partitioned GeoParquet dataset is read with --dask")
    if not path.is_file():
        raise EmbedInputError(f"{path}: no such file")
    try:
        if suffix == ".csv":
            return _CsvReader.open(path)
        if suffix in (".parquet", ".geoparquet"):
            return _ParquetReader.open(path)
        return _OgrReader.open(path)
    except EmbedInputError:
        raise
    except Exception as error:  # noqa: BLE001 — GDAL/Arrow/pandas failures on a user's file: a message, not a traceback
        raise EmbedInputError(f"{path} is not a readable {INPUT_FORMATS[suffix]} file ({_first_line(error)})") from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _coordinate_columns(path: Path, names: list[str]) -> tuple[str, str]:
    try:
        lon, lat = lonlat_columns(names)
    except ValueError as error:
        raise EmbedInputError(f"{path} needs a longitude and a latitude column: {error}") from None
    return names[lon], names[lat]


def _crs_or_assumed(path: Path, crs: CRS | None, notes: list[str]) -> CRS | None:
    if crs is None:
        notes.append(f"{path.name} has no CRS: it was taken as EPSG:4326 (longitude, latitude in degrees)")
    elif to_wgs84(crs) is not None:
        notes.append(f"reprojected from {crs.to_string()} to EPSG:4326")
    return crs


@dataclass
class _CsvReader(PointsReader):
    separator: str = ","
    lon: str = ""
    lat: str = ""
    dtypes: dict | None = None

    @classmethod
    def open(cls, path: Path) -> _CsvReader:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(65_536)
        try:
            separator = csv.Sniffer().sniff(sample.partition("\n")[0], delimiters=",;\t|").delimiter
        except csv.Error:
            separator = ","
        header = list(pd.read_csv(path, sep=separator, nrows=0, encoding="utf-8-sig").columns)
        lon, lat = _coordinate_columns(path, [str(name) for name in header])
        first = pd.read_csv(path, sep=separator, nrows=DEFAULT_CHUNK_SIZE, encoding="utf-8-sig")  # the column types
        dtypes = {name: _stable_dtype(dtype) for name, dtype in first.dtypes.items() if name not in (lon, lat)}
        return cls(path, "CSV", None, [], separator, lon, lat, dtypes)

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[PointChunk]:
        start = 0
        with pd.read_csv(self.path, sep=self.separator, chunksize=chunk_size, dtype=self.dtypes, encoding="utf-8-sig") as frames:
            for frame in frames:
                yield chunk_from_columns(pa.Table.from_pandas(frame, preserve_index=False), self.lon, self.lat, start)
                start += len(frame)


def _stable_dtype(dtype) -> object:
    """The dtype a CSV column keeps in every chunk: integers and booleans nullable (a later chunk may have blanks)."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "Int64"
    return dtype


@dataclass
class _ParquetReader(PointsReader):
    geometry: str | None = None
    encoding: str = "WKB"
    crs: CRS | None = None
    lon: str = ""
    lat: str = ""

    @classmethod
    def open(cls, path: Path) -> _ParquetReader:
        schema = pq.read_schema(path)
        total = pq.ParquetFile(path).metadata.num_rows
        geo = json.loads((schema.metadata or {}).get(b"geo", b"null"))
        if geo is None:
            lon, lat = _coordinate_columns(path, schema.names)
            return cls(path, "Parquet table", total, [], lon=lon, lat=lat)
        column = geo["primary_column"]
        meta = geo["columns"][column]
        if meta.get("encoding", "WKB") not in ("WKB", "point"):
            raise EmbedInputError(f"{path}: geometry encoding {meta['encoding']!r} is not read; write WKB or point (GeoParquet)")
        # GeoParquet: a column without "crs" is OGC:CRS84 (lon/lat degrees); "crs": null means unknown.
        crs = meta.get("crs", "OGC:CRS84")
        crs = CRS.from_user_input(crs) if crs is not None else None
        notes: list[str] = []
        return cls(path, "GeoParquet", total, notes, column, meta.get("encoding", "WKB"), _crs_or_assumed(path, crs, notes))

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[PointChunk]:
        transformer = to_wgs84(self.crs)
        start = 0
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=chunk_size):
            table = pa.Table.from_batches([batch])
            if self.geometry is None:
                yield chunk_from_columns(table, self.lon, self.lat, start)
            else:
                column = table.column(self.geometry).combine_chunks()
                wkb = column if self.encoding == "WKB" else None
                yield chunk_from_geometry(table.drop_columns([self.geometry]), _decode(column, self.encoding), start, transformer, wkb)
            start += len(table)


def _decode(column: pa.Array, encoding: str):
    """Shapely geometries of a GeoParquet geometry column (WKB, or GeoArrow's native point struct)."""
    if encoding == "point":
        points = shapely.points(column.field("x").to_numpy(zero_copy_only=False), column.field("y").to_numpy(zero_copy_only=False))
        points[column.is_null().to_numpy(zero_copy_only=False)] = None
        return points
    return shapely.from_wkb(column.to_numpy(zero_copy_only=False))


@dataclass
class _OgrReader(PointsReader):
    layer: str = ""
    crs: CRS | None = None

    @classmethod
    def open(cls, path: Path) -> _OgrReader:
        layers = pyogrio.list_layers(path)
        if len(layers) == 0:
            raise EmbedInputError(f"{path} holds no layer")
        notes = [f"{path.name} holds {len(layers)} layers; the first, {layers[0][0]!r}, was read"] if len(layers) > 1 else []
        info = pyogrio.read_info(path, layer=layers[0][0])
        total = int(info["features"]) if info["features"] >= 0 else None
        if info["geometry_type"] is None:
            raise EmbedInputError(f"{path}: its layer {layers[0][0]!r} has no geometry")
        crs = CRS.from_user_input(info["crs"]) if info["crs"] else None
        return cls(path, INPUT_FORMATS[path.suffix.lower()], total, notes, str(layers[0][0]), _crs_or_assumed(path, crs, notes))

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[PointChunk]:
        transformer = to_wgs84(self.crs)
        start = 0
        with pyogrio.open_arrow(self.path, layer=self.layer, batch_size=chunk_size, use_pyarrow=True) as (meta, stream):
            name = meta["geometry_name"] or "wkb_geometry"
            for batch in stream:
                table = pa.Table.from_batches([batch])
                wkb = table.column(name).combine_chunks()
                geometry = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
                yield chunk_from_geometry(table.drop_columns([name]), geometry, start, transformer, wkb)
                start += len(table)


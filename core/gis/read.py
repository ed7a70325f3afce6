"""Users' vector files (GeoJSON, GeoPackage, zipped Shapefile, GeoParquet, KML, FlatGeobuf, CSV of points)
read into GeoDataFrames in EPSG:4326.

Every problem is a :class:`GISInputError` whose message is meant for the user: not a vector file, an
empty layer, a file over the size cap, a zip without a ``.shp``, coordinates that are not degrees. A file
without a CRS is taken as EPSG:4326 and the returned :class:`VectorLayer` says so in its ``notes``.
Zip members are only ever extracted into a fresh temporary folder, each checked to stay inside it.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from core.data.columns import lonlat_columns
from core.data.errors import DatasetError

WGS84 = "EPSG:4326"
MAX_VECTOR_BYTES = 25 * 1024 * 1024
"""Largest vector file accepted, in bytes (the app's upload cap, ``server.maxUploadSize``)."""
MAX_UNZIPPED_BYTES = 8 * MAX_VECTOR_BYTES
"""Largest total size of a zip's members once extracted (a guard against zip bombs)."""
#: File suffixes read, and what each is.
VECTOR_SUFFIXES = {
    ".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GeoPackage", ".zip": "zipped Shapefile",
    ".parquet": "GeoParquet", ".geoparquet": "GeoParquet", ".kml": "KML", ".fgb": "FlatGeobuf", ".csv": "CSV of points",
}
#: Column names (lower case) a CSV of points may use for its coordinates.


class GISInputError(ValueError):
    """A vector file that cannot be used; the message says which and why, in words for the user."""


@dataclass(frozen=True)
class VectorLayer:
    """A layer read from ``name``, in EPSG:4326, and what was assumed or changed while reading it."""

    name: str
    frame: gpd.GeoDataFrame
    notes: tuple[str, ...] = ()


def kml_supported() -> bool:
    """Whether this GDAL build reads KML (the KML or LIBKML driver)."""
    return bool({"KML", "LIBKML"} & set(pyogrio.list_drivers()))


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        known = ", ".join(sorted(VECTOR_SUFFIXES))
        raise GISInputError(f"{name}: not a vector file this app reads (expected one of {known})")
    if suffix == ".kml" and not kml_supported():
        raise GISInputError(f"{name}: this GDAL build has no KML driver; convert the file to GeoJSON or GeoPackage")
    return suffix


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise GISInputError(f"{name} is {size / 2**20:.1f} MB; vector files can be at most {max_bytes / 2**20:.0f} MB")


def read_vector_bytes(data: bytes, name: str, max_bytes: int = MAX_VECTOR_BYTES) -> VectorLayer:
    """The first layer of an uploaded vector file (``name`` gives its format by suffix), in EPSG:4326."""
    _check_size(name, len(data), max_bytes)
    suffix = _suffix(name)
    with tempfile.TemporaryDirectory(prefix="geocsp-gis-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        return _read(path, name)


def read_vector_file(path: str | os.PathLike[str], max_bytes: int = MAX_VECTOR_BYTES) -> VectorLayer:
    """The first layer of the vector file at ``path`` (relative to, and never outside, the data root)."""
    from core.data.loaders import inside_data_root

    try:
        resolved = inside_data_root(path)
    except DatasetError as error:
        raise GISInputError(str(error)) from error
    if not resolved.is_file():
        raise GISInputError(f"{path}: no such file under the data root")
    name = Path(path).name
    _check_size(name, resolved.stat().st_size, max_bytes)
    _suffix(name)
    return _read(resolved, name)


def _read(path: Path, name: str) -> VectorLayer:
    """Read ``path`` by its format (``name``'s suffix), then reproject to EPSG:4326."""
    suffix = Path(name).suffix.lower()
    notes: list[str] = []
    try:
        if suffix == ".zip":
            with tempfile.TemporaryDirectory(prefix="geocsp-shp-") as folder:
                shapefile = extract_shapefile(path, Path(folder), name, notes)
                frame = _read_layer(shapefile, name, notes)
        elif suffix == ".csv":
            frame = _read_csv_points(path, name)
        elif suffix in (".parquet", ".geoparquet"):
            frame = gpd.read_parquet(path)
        else:
            frame = _read_layer(path, name, notes)
    except GISInputError:
        raise
    except Exception as error:  # noqa: BLE001 — GDAL/Arrow failures on untrusted bytes: a message, not a traceback
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise GISInputError(f"{name} is not a readable {VECTOR_SUFFIXES[suffix]} file ({first_line})") from error
    return VectorLayer(name, *_to_wgs84(frame, name, notes))


def _read_layer(path: Path, name: str, notes: list[str]) -> gpd.GeoDataFrame:
    """The first layer of a GDAL-readable file; a note when the file holds more than one."""
    layers = pyogrio.list_layers(path)
    if len(layers) == 0:
        raise GISInputError(f"{name} holds no layer")
    if len(layers) > 1:
        notes.append(f"{name} holds {len(layers)} layers; the first, {layers[0][0]!r}, was read")
    return gpd.read_file(path, layer=layers[0][0], engine="pyogrio")


def extract_shapefile(archive: Path, folder: Path, name: str, notes: list[str]) -> Path:
    """Extract ``archive`` into ``folder`` (every member checked to land inside it) and return its ``.shp``."""
    folder = folder.resolve()
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
            if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
                raise GISInputError(f"{name} unpacks to more than {MAX_UNZIPPED_BYTES / 2**20:.0f} MB")
            shapefiles = sorted(m.filename for m in members if m.filename.lower().endswith(".shp"))
            if not shapefiles:
                raise GISInputError(f"{name} holds no .shp file: zip a Shapefile's .shp, .shx, .dbf (and .prj) together")
            for member in members:
                target = (folder / member.filename).resolve()
                if folder not in target.parents:
                    raise GISInputError(f"{name}: the member {member.filename!r} would be written outside the archive's folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(bundle.read(member))
    except zipfile.BadZipFile as error:
        raise GISInputError(f"{name} is not a zip archive ({error})") from error
    if len(shapefiles) > 1:
        notes.append(f"{name} holds {len(shapefiles)} Shapefiles; the first, {shapefiles[0]!r}, was read")
    return folder / shapefiles[0]


def _read_csv_points(path: Path, name: str) -> gpd.GeoDataFrame:
    """Points from a CSV with longitude and latitude columns (:func:`core.data.columns.lonlat_columns`)."""
    table = pd.read_csv(path, sep=None, engine="python")
    try:
        lon, lat = (table.columns[i] for i in lonlat_columns([str(c) for c in table.columns]))
    except ValueError as error:
        raise GISInputError(f"{name} needs a longitude and a latitude column: {error}") from None
    coordinates = table[[lon, lat]].apply(pd.to_numeric, errors="coerce")
    bad = int(coordinates.isna().any(axis=1).sum())
    if bad:
        raise GISInputError(f"{name}: {bad} row(s) have no numeric {lon}/{lat}")
    points = gpd.points_from_xy(coordinates[lon], coordinates[lat])
    return gpd.GeoDataFrame(table.drop(columns=[lon, lat]), geometry=points, crs=WGS84)


def _to_wgs84(frame: gpd.GeoDataFrame, name: str, notes: list[str]) -> tuple[gpd.GeoDataFrame, tuple[str, ...]]:
    """``frame`` without empty geometries, valid, in EPSG:4326 (a CRS-less frame is assumed to be in it)."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise GISInputError(f"{name} has no geometry column")
    missing = frame.geometry.isna() | frame.geometry.is_empty
    frame = frame[~missing].reset_index(drop=True)
    if missing.any():
        notes.append(f"{int(missing.sum())} feature(s) without geometry were left out")
    if frame.empty:
        raise GISInputError(f"{name} has no features with a geometry (the layer is empty)")
    if frame.crs is None:
        west, south, east, north = frame.total_bounds
        if not (-360.0 <= west and east <= 360.0 and -90.0 <= south and north <= 90.0):
            raise GISInputError(
                f"{name} has no CRS and its coordinates ({west:.4g}, {south:.4g}, {east:.4g}, {north:.4g}) are not "
                "longitude/latitude degrees: save it with its CRS (e.g. a .prj beside the .shp)"
            )
        frame = frame.set_crs(WGS84)
        notes.append(f"{name} has no CRS: it was assumed to be EPSG:4326 (longitude, latitude in degrees)")
    elif not frame.crs.equals(WGS84):
        notes.append(f"reprojected from {frame.crs.to_string()} to EPSG:4326")
        frame = frame.to_crs(WGS84)
    invalid = ~frame.geometry.is_valid
    if invalid.any():
        frame.loc[invalid, frame.geometry.name] = frame.geometry[invalid].make_valid()
        notes.append(f"{int(invalid.sum())} invalid geometr{'y was' if invalid.sum() == 1 else 'ies were'} repaired")
    return frame, tuple(notes)

"""GIS widgets shared by the pages: vector-file uploads read into regions, zones or places (places through
:func:`core.embed.read_points`, the reading and bad-row checks of ``python -m core embed``), and download
buttons that write a table as GeoPackage, GeoParquet or GeoJSON.

Uploads are read once per file content (``st.cache_data``); every problem is a message in the page. A
download button builds its file only when clicked (Streamlit runs the callable then), so pages do not pay
for exports nobody asks for.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from core.embed import EmbedInputError, PointTable, read_points
from core.embed.columns import EMBEDDED_AT
from core.gis.export import FORMATS, layer_bytes
from core.gis.read import MAX_VECTOR_BYTES, GISInputError, VectorLayer, read_vector_bytes
from core.gis.region import PolygonRegion, region_from_layer, zones_from_layer
from geovis.markdown_text import escape_markdown
from geovis.uploads import limited_file_uploader

UPLOAD_LIMIT_MB = MAX_VECTOR_BYTES // 2**20
FILE_HELP = (
    f"GeoJSON, GeoPackage, zipped Shapefile (.zip with .shp, .shx, .dbf, .prj), GeoParquet, FlatGeobuf or KML; "
    f"points also as CSV with lon/lat columns. Up to {UPLOAD_LIMIT_MB} MB. Any CRS is reprojected to EPSG:4326."
)


@st.cache_data(max_entries=8, show_spinner="Reading the vector file…")
def _layer(data: bytes, name: str) -> VectorLayer:
    return read_vector_bytes(data, name)


def upload_layer(label: str, key: str, container=st) -> VectorLayer | None:
    """A vector-file uploader; the layer read from the uploaded file, or None (with an error in the page when
    the file cannot be used). What reading assumed (a missing CRS, a reprojection) is shown under it."""
    upload = limited_file_uploader(container, label, key=key, help=FILE_HELP, limit_mb=UPLOAD_LIMIT_MB)
    if upload is None:
        return None
    try:
        layer = _layer(upload.getvalue(), upload.name)
    except GISInputError as error:
        container.error(escape_markdown(error))
        return None
    for note in layer.notes:
        container.caption(f"ℹ️ {escape_markdown(note)}")
    return layer


def _read_as(layer: VectorLayer | None, convert: Callable):
    """``convert(layer)``, or None with the reason in the page when the layer has the wrong geometry."""
    if layer is None:
        return None
    try:
        return convert(layer)
    except GISInputError as error:
        st.error(escape_markdown(error))
        return None


def upload_region(key: str, container=st) -> PolygonRegion | None:
    """The union of an uploaded file's polygons as a region, or None."""
    return _read_as(upload_layer("Region file (polygons)", f"{key}_region_file", container), region_from_layer)


def upload_zones(key: str, container=st) -> gpd.GeoDataFrame | None:
    """An uploaded file's polygon features as zones (attributes kept), or None."""
    return _read_as(upload_layer("Zones file (polygons)", f"{key}_zones_file", container), zones_from_layer)


@st.cache_data(max_entries=8, show_spinner="Reading the places…")
def _places(data: bytes, name: str) -> PointTable:
    with tempfile.TemporaryDirectory(prefix="geocsp-places-") as folder:
        path = Path(folder) / Path(name).name
        path.write_bytes(data)
        return read_points(path)


def upload_places(key: str, container=st) -> tuple[np.ndarray, gpd.GeoDataFrame] | None:
    """An uploaded file's places: (lon, lat) rows and the features (lines and polygons at a representative
    point; rows without usable coordinates left out and listed under the uploader), or None."""
    upload = limited_file_uploader(container, "Places file (points)", key=f"{key}_places_file", help=FILE_HELP, limit_mb=UPLOAD_LIMIT_MB)
    if upload is None:
        return None
    try:
        table = _places(upload.getvalue(), upload.name)
    except EmbedInputError as error:
        container.error(escape_markdown(error))
        return None
    for note in table.notes():
        container.caption(f"ℹ️ {escape_markdown(note)}")
    return table.lonlat, table.frame


def place_labels(places: gpd.GeoDataFrame) -> list[str]:
    """A label per place: its value in the first text column of the file (e.g. a name), else "place N"."""
    own = [c for c in places.columns if c not in (places.geometry.name, EMBEDDED_AT)]
    text = next((c for c in own if pd.api.types.is_string_dtype(places[c]) or places[c].dtype == object), None)
    return [str(v) if text else f"place {i + 1}" for i, v in enumerate(places[text] if text else range(len(places)))]


@st.cache_data(max_entries=4, show_spinner="Summarising the zones…")
def _zonal_summary(digest: str, run_dir: str, resolution: int, k: int, _zones: gpd.GeoDataFrame, _classifier) -> gpd.GeoDataFrame:
    from core.location import loading as encoders  # torch: imported only when a page summarises zones
    from core.gis.zonal import run_zonal_summary

    return run_zonal_summary(_zones, _classifier, encoders.run_location_encoder(run_dir), resolution, k)


def zonal_summary(zones: gpd.GeoDataFrame, run_dir: str, resolution: int, k: int, classifier) -> gpd.GeoDataFrame:
    """:func:`core.gis.zonal.run_zonal_summary` with ``classifier`` and the location encoder of the run at
    ``run_dir``, cached per (zones' geometry and attributes, run, settings)."""
    digest = hashlib.sha256(b"".join(zones.geometry.to_wkb()))
    digest.update(zones.drop(columns=zones.geometry.name).to_json().encode())
    return _zonal_summary(digest.hexdigest(), run_dir, resolution, k, zones, classifier)


def download_buttons(make_layer: Callable[[], gpd.GeoDataFrame], name: str, key: str, rows: int, container=st) -> None:
    """One download button per export format for the layer ``make_layer()`` builds (called on click, without
    Streamlit calls); with ``rows`` 0 a note that there is nothing to export instead."""
    if rows == 0:
        container.caption(f"Nothing to download: the {name.replace('_', ' ')} selection is empty.")
        return
    for column, (fmt, (label, suffix, mime)) in zip(container.columns(len(FORMATS)), FORMATS.items()):
        column.download_button(
            label, data=lambda fmt=fmt: layer_bytes(make_layer(), fmt, name), file_name=f"{name}{suffix}", mime=mime,
            key=f"{key}_download_{fmt}", on_click="ignore", icon=":material/download:",
            help=f"{rows:,} rows as {label} (EPSG:4326)",
        )

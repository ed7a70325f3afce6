"""What the Browse page shows: filtered samples as markers or H3 hexagons, and the sample nearest a click.

Filtering and the layer data are cached per (dataset, filters) with ``st.cache_data``. The folium map
is rebuilt from them on each run, because ``st_folium`` mutates the map it renders; building and
rendering take about 0.3 s for a few thousand markers and under 0.1 s for the world's hexagons (2 000
cells, drawn by :mod:`geovis.hex_layer`). The region is a :class:`core.regions.BBox` or a
:class:`core.gis.region.PolygonRegion` (None: the world).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import folium
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from core.coords import haversine_km, wrap_longitude
from core.data.base import LOCAL_TIME, GeoImageDataset
from core.gis.region import PolygonRegion
from core.regions import BBox
from geovis import maps
from geovis.charts import split_sizes
from geovis.colors import class_color
from geovis.markdown_text import escape_markdown
from geovis.thumbnails import display_image

#: Up to this many filtered samples in view are drawn as individual markers, more as H3 hexagons.
MAX_MARKERS = 3000
#: H3 resolution of the aggregated view (cells of ~86 000 km²): about 2 000 cells for the whole default
#: dataset; finer cells cost proportionally more to render on every click.
HEX_RESOLUTION = 2
UNLABELLED = -1
_UNLABELLED_COLOR = "#808080"


@dataclass(frozen=True)
class Filters:
    """Which samples to show. Empty ``classes``/``splits`` mean all; ``dates`` is an inclusive (first, last) day;
    ``region`` None is the whole world."""

    classes: tuple[int, ...] = ()
    splits: tuple[str, ...] = ()
    dates: tuple[date, date] | None = None
    region: BBox | PolygonRegion | None = None


@dataclass(frozen=True)
class SampleLayer:
    """The filtered samples (dataset indices) and how to draw them: ``kind`` is "markers" or "hexagons"."""

    indices: np.ndarray
    kind: str
    lonlat: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    cells: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    tooltips: list[str] = field(default_factory=list)


def class_options(dataset: GeoImageDataset) -> list[int]:
    """Class indices present in the dataset, then :data:`UNLABELLED` when some records have no label."""
    present = np.unique(dataset.labels)
    return [int(k) for k in present if k >= 0] + ([UNLABELLED] if (present < 0).any() else [])


def class_name(dataset: GeoImageDataset, label: int) -> str:
    """Display name of a class index (``"unlabelled"`` for -1)."""
    return dataset.class_names[label] if label >= 0 else "unlabelled"


def split_options(dataset: GeoImageDataset) -> list[str]:
    """Split names of the dataset in train/val/test order; empty when it has no ``split`` column."""
    if "split" not in dataset.records:
        return []
    return list(split_sizes(dataset.records["split"].dropna().astype(str).tolist()))


def date_bounds(dataset: GeoImageDataset) -> tuple[date, date] | None:
    """First and last day with a timestamp, or None when no record has one."""
    days = dataset.records["timestamp"].dropna()
    if days.empty:
        return None
    return days.min().date(), days.max().date()


def filter_mask(dataset: GeoImageDataset, filters: Filters) -> np.ndarray:
    """bool ``[N]``: located records passing every filter (records without a timestamp fail a date filter)."""
    records = dataset.records
    mask = dataset.has_location.copy()
    if filters.region is not None:
        mask &= filters.region.contains(dataset.lonlat)
    if filters.classes:
        mask &= np.isin(dataset.labels, filters.classes)
    if filters.splits:
        mask &= records["split"].astype(str).isin(filters.splits).to_numpy()
    if filters.dates is not None:
        first, last = (pd.Timestamp(day, tz="UTC") for day in filters.dates)
        stamps = records["timestamp"]
        mask &= ((stamps >= first) & (stamps < last + pd.Timedelta(days=1))).to_numpy()
    return mask


def sample_layer(dataset: GeoImageDataset, filters: Filters, max_markers: int = MAX_MARKERS) -> SampleLayer:
    """The filtered samples, as markers (coloured by class) when at most ``max_markers``, else H3 hexagons."""
    indices = np.flatnonzero(filter_mask(dataset, filters))
    lonlat = dataset.lonlat[indices]
    labels = dataset.labels[indices]
    if len(indices) <= max_markers:
        tooltips = [
            f"{class_name(dataset, int(k))}\nlon {lon:.3f}, lat {lat:.3f}"
            for k, (lon, lat) in zip(labels, lonlat.tolist())
        ]
        colors = [class_color(k) if k >= 0 else _UNLABELLED_COLOR for k in labels.tolist()]
        return SampleLayer(indices, "markers", lonlat=lonlat, colors=colors, tooltips=tooltips)
    cells, colors, tooltips = maps.sample_hexagons(lonlat, labels, dataset.class_names, HEX_RESOLUTION)
    return SampleLayer(indices, "hexagons", cells=cells, colors=colors, tooltips=tooltips)


@st.cache_data(max_entries=32, show_spinner="Aggregating samples…")
def cached_sample_layer(dataset_key: str, filters: Filters, _dataset: GeoImageDataset) -> SampleLayer:
    """:func:`sample_layer`, cached per dataset content (``dataset_key``) and filter values."""
    return sample_layer(_dataset, filters)


def sample_map(layer: SampleLayer, region: BBox | PolygonRegion | None, basemap: maps.Basemap) -> folium.Map:
    """An offline map of ``region`` (None: the world, polygons outlined) showing the layer's markers or hexagons."""
    center, zoom = maps.view_of(region)
    m = maps.base_map(center_lonlat=center, zoom=zoom, basemap=basemap)
    maps.add_region_outline(m, region)
    if layer.kind == "hexagons":
        maps.add_hexagons(m, layer.cells, layer.colors, layer.tooltips)
    elif len(layer.indices):
        maps.add_point_layer(m, layer.lonlat, layer.colors, layer.tooltips, name="samples")
    return m


def selection_marker(lonlat: tuple[float, float]) -> folium.FeatureGroup:
    """A ring around the selected sample, for ``st_folium(feature_group_to_add=...)`` (no map reload)."""
    group = folium.FeatureGroup(name="selection")
    lon, lat = lonlat
    folium.CircleMarker([lat, lon], radius=9, color="#ffff00", weight=3, fill=False).add_to(group)
    return group


def clicked_lonlat(map_state: Mapping | None) -> tuple[float, float] | None:
    """(lon, lat) of the last map click in ``st_folium``'s returned state, longitude wrapped; None before any click."""
    click = (map_state or {}).get("last_clicked")
    if not click:
        return None
    return float(wrap_longitude(float(click["lng"]))), float(click["lat"])


def nearest_sample(dataset: GeoImageDataset, indices: np.ndarray, lonlat: tuple[float, float]) -> tuple[int, float]:
    """The dataset index among ``indices`` closest (great circle) to ``lonlat``, and its distance in km."""
    if len(indices) == 0:
        raise ValueError("no samples to choose from")
    distances = haversine_km(dataset.lonlat[indices], np.asarray(lonlat, dtype=np.float64))
    best = int(np.argmin(distances))
    return int(indices[best]), float(distances[best])


#: Record columns not listed as extras: shown under a name of their own, or internal (indices, label-subset ranks).
_NOT_EXTRA = frozenset({
    "lon", "lat", "label", "timestamp", "site_id", "image", "split", "climate_name", "landcover_centre", "country",
    "country_code", "place", "place_distance_km", "climate", "climate_centre", "label_rank", LOCAL_TIME,
})


def sample_metadata(dataset: GeoImageDataset, index: int) -> dict[str, str]:
    """Display fields of one record: location, class, split, climate, country, nearest place, time, site, extras."""
    row = dataset.records.iloc[index]
    sample = dataset[index]
    fields = {
        "Longitude": f"{sample.lon:.4f}",
        "Latitude": f"{sample.lat:.4f}",
        "Class": sample.label_name or "unlabelled",
        "Split": row.get("split"),
        "Climate": row.get("climate_name"),
        "Land cover at centre": (
            class_name(dataset, int(row["landcover_centre"])) if "landcover_centre" in row else None
        ),
        "Country": row.get("country", row.get("country_code")),
        "Nearest place": (
            f"{row['place']} ({row['place_distance_km']:.1f} km)" if "place_distance_km" in row else row.get("place")
        ),
        "Timestamp": sample.timestamp.isoformat() if sample.timestamp is not None else None,
        "Taken (camera local time, zone unknown)": row.get(LOCAL_TIME),
        "Site id": sample.site_id,
        "Image": sample.image,
    }
    extras = {name: row[name] for name in dataset.records.columns if name not in _NOT_EXTRA}
    return {name: str(value) for name, value in {**fields, **extras}.items() if _present(value)}


def _present(value: object) -> bool:
    return value is not None and not (pd.api.types.is_scalar(value) and pd.isna(value))


def sample_views(dataset: GeoImageDataset, index: int, min_side: int = 160) -> list[tuple[str, Image.Image]]:
    """Every image of the sample's site (timestamps / aligned views) with captions (Markdown-escaped), sized by
    :func:`geovis.thumbnails.display_image`: small chips enlarged crisply, any aspect ratio drawable.

    Raises ``ValueError`` or ``OSError`` when an image cannot be read.
    """
    return [
        (escape_markdown(caption), display_image(image, min_side=min_side)) for caption, image in dataset.load_views(index)
    ]

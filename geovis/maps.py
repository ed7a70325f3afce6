"""Offline folium maps: locally served Leaflet, a Blue Marble / Natural Earth basemap, point and H3 layers.

Folium's defaults load Leaflet, jQuery, Bootstrap, Font Awesome and awesome-markers from CDNs; every
map made here references only the Leaflet copy served by the app (see :mod:`geovis.assets`), so it
renders with no network. Only ``basemap="osm"`` (an explicit choice) fetches web tiles.

Element ids are renumbered deterministically, so the same inputs give byte-identical HTML (and
``st_folium`` does not re-send an unchanged map).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Sequence
from typing import Literal

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from core.coords import validate_lonlat
from core.hexgrid import aggregate_mean
from core.gis.region import PolygonRegion
from core.regions import BBox
from geovis import assets
from geovis.colors import class_color, sequential_colors
from geovis.hex_layer import GeoJsonText, HexLayer, hex_layer_json, html_text
from geovis.map_clicks import InstantClicks

Basemap = Literal["bluemarble", "outlines", "osm"]
BASEMAPS: tuple[Basemap, ...] = ("bluemarble", "outlines", "osm")
#: How each basemap is named in the app.
BASEMAP_LABELS: dict[Basemap, str] = {
    "bluemarble": "Blue Marble (offline)", "outlines": "Outlines (offline)", "osm": "OpenStreetMap (online)",
}
#: Web Mercator bounds of the Blue Marble overlay, [[south, west], [north, east]].
WORLD_BOUNDS = [[-assets.MERCATOR_MAX_LAT, -180.0], [assets.MERCATOR_MAX_LAT, 180.0]]

_OUTLINE_STYLES = {
    "bluemarble": {"color": "#ffffff", "weight": 0.6, "opacity": 0.5, "fill": False},
    "outlines": {"color": "#8a8a8a", "weight": 0.6, "opacity": 1.0, "fillColor": "#f4f1ea", "fillOpacity": 1.0},
}
_OCEAN_COLOR = "#cfe2ef"


class _UrlImageOverlay(folium.raster_layers.ImageOverlay):
    """An ImageOverlay of an image served by the app (folium would read a path without scheme as a file)."""

    def __init__(self, url: str, bounds: list[list[float]], **kwargs) -> None:
        super().__init__(image="data:,", bounds=bounds, **kwargs)
        self.url = url


class _TextPopup(MacroElement):
    """A popup bound to its parent layer; folium's own Popup builds its content with jQuery (a CDN script)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.bindPopup({{ this.content|tojson }});"
        "{% endmacro %}"
    )

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "TextPopup"
        self.content = content


def _freeze_ids(m: folium.Map) -> folium.Map:
    """Renumber the ids of the map and all its descendants in tree order (deterministic output)."""
    counter = itertools.count()

    def visit(element: Element) -> None:
        element._id = f"{next(counter):032x}"
        for child in element._children.values():
            visit(child)

    visit(m)
    return m


def view_of(bbox: BBox | PolygonRegion | None) -> tuple[tuple[float, float], int]:
    """(centre (lon, lat), zoom) that shows ``bbox`` (polygons: their bounding box; None: the world) on a map
    about 1 000 px wide (zoom 2 to 10)."""
    if bbox is None:
        return (10.0, 20.0), 2
    if isinstance(bbox, PolygonRegion):
        bbox = bbox.bbox
    extent = max(bbox.width, 2.0 * (bbox.north - bbox.south))
    return bbox.center, int(np.clip(np.floor(np.log2(1000.0 / extent)), 2, 10))


def add_region_outline(m: folium.Map, area: BBox | PolygonRegion | None) -> None:
    """Outline ``area``'s polygons on ``m`` (boxes and the world are not outlined)."""
    if isinstance(area, PolygonRegion):
        folium.GeoJson(
            shapely.geometry.mapping(area.geometry), name="region", interactive=False,
            style_function=lambda _feature: {"color": "#ffff00", "weight": 2, "opacity": 0.9, "fill": False},
        ).add_to(m)


def base_map(
    center_lonlat: tuple[float, float] = (10.0, 20.0),
    zoom: int = 2,
    basemap: Basemap = "bluemarble",
    instant_clicks: bool = False,
) -> folium.Map:
    """A folium map that loads only the locally served Leaflet, on an offline basemap.

    ``center_lonlat`` is (lon, lat) in degrees. ``basemap``: ``"bluemarble"`` (NASA Blue Marble image
    with Natural Earth country outlines), ``"outlines"`` (filled Natural Earth countries on a plain
    ocean) — both offline — or ``"osm"`` (OpenStreetMap web tiles: needs internet). ``instant_clicks``: clicks
    reach the app without ``st_folium``'s 250 ms debounce (:mod:`geovis.map_clicks`).
    Raises :class:`geovis.assets.MissingAssetsError` when the local assets are not built.
    """
    if basemap not in BASEMAPS:
        raise ValueError(f"unknown basemap {basemap!r}; choose from {BASEMAPS}")
    assets.require_assets()
    lon, lat = validate_lonlat(lonlat=[center_lonlat])[0].tolist()
    m = folium.Map(
        location=[lat, lon],
        zoom_start=zoom,
        tiles=None,
        prefer_canvas=True,
        min_zoom=1,
        max_bounds=True,
        width="100%",
        height="100%",
    )
    # Instance attributes shadow folium's CDN lists (jQuery, Bootstrap, Font Awesome, awesome-markers).
    m.default_js = [("leaflet", assets.LEAFLET_JS_URL)]
    m.default_css = [("leaflet_css", assets.LEAFLET_CSS_URL)]
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    else:
        if basemap == "bluemarble":
            _UrlImageOverlay(
                assets.BLUEMARBLE_URL, WORLD_BOUNDS, name="NASA Blue Marble", pixelated=False,
                attribution="NASA Blue Marble", interactive=False,
            ).add_to(m)
        else:
            folium.Rectangle(
                WORLD_BOUNDS, stroke=False, fill=True, fill_color=_OCEAN_COLOR, fill_opacity=1.0, interactive=False
            ).add_to(m)
        GeoJsonText(
            natural_earth_text("countries-110m"), style=_OUTLINE_STYLES[basemap], interactive=False, attribution="Natural Earth"
        ).add_to(m)
    if instant_clicks:
        InstantClicks().add_to(m)
    return _freeze_ids(m)


@functools.cache
def natural_earth_text(stem: str) -> str:
    """The built Natural Earth layer ``stem`` as compact GeoJSON text, serialised once per process."""
    return json.dumps(assets.natural_earth(stem), separators=(",", ":"))


def add_points(
    m: folium.Map,
    lonlat: np.ndarray | Sequence[Sequence[float]],
    colors: Sequence[str] | str = "#ff7f0e",
    tooltips: Sequence[str] | None = None,
    popups: Sequence[str] | None = None,
    radius: float = 4.0,
    name: str = "points",
) -> folium.FeatureGroup:
    """Draw one CircleMarker per (lon, lat) row, coloured by ``colors`` (one hex each, or one for all).

    ``tooltips``/``popups`` are plain text (escaped). Returns the feature group holding the markers.
    """
    points = validate_lonlat(lonlat=lonlat)
    fills = [colors] * len(points) if isinstance(colors, str) else list(colors)
    for given, what in ((fills, "colors"), (tooltips, "tooltips"), (popups, "popups")):
        if given is not None and len(given) != len(points):
            raise ValueError(f"{what} has {len(given)} entries for {len(points)} points")
    group = folium.FeatureGroup(name=name)
    for i, (lon, lat) in enumerate(points.tolist()):
        marker = folium.CircleMarker(
            location=[lat, lon],
            radius=radius,
            color="#ffffff",
            weight=0.8,
            fill=True,
            fill_color=fills[i],
            fill_opacity=0.9,
            tooltip=html_text(tooltips[i]) if tooltips is not None else None,
        ).add_to(group)
        if popups is not None:
            marker.add_child(_TextPopup(html_text(popups[i])))
    group.add_to(m)
    _freeze_ids(m)
    return group


def add_point_layer(
    m: folium.Map,
    lonlat: np.ndarray | Sequence[Sequence[float]],
    colors: Sequence[str],
    tooltips: Sequence[str] | None = None,
    radius: float = 4.0,
    name: str = "points",
) -> folium.GeoJson:
    """Draw (lon, lat) rows as circle markers in one GeoJSON layer, filled with ``colors`` (one hex each).

    Unlike :func:`add_points` (one Leaflet object per marker, with popups), the whole layer is one
    JSON blob styled per feature, so thousands of points render quickly. ``tooltips`` are plain text.
    """
    points = validate_lonlat(lonlat=lonlat)
    if len(colors) != len(points) or (tooltips is not None and len(tooltips) != len(points)):
        raise ValueError("lonlat, colors and tooltips must have the same length")
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "style": {"fillColor": colors[i]},
                **({"tooltip": html_text(tooltips[i])} if tooltips is not None else {}),
            },
        }
        for i, (lon, lat) in enumerate(points.tolist())
    ]
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=name,
        marker=folium.CircleMarker(radius=radius, color="#ffffff", weight=0.8, fill=True, fill_opacity=0.9),
        tooltip=folium.GeoJsonTooltip(fields=["tooltip"], labels=False) if tooltips is not None else None,
    )
    layer.add_to(m)
    _freeze_ids(m)
    return layer


def add_hex_layer(m: folium.Map, geojson: str, fill_opacity: float = 0.65) -> HexLayer:
    """Draw a hexagon FeatureCollection built by :func:`geovis.hex_layer.hex_layer_json` (e.g. a cached one)."""
    layer = HexLayer(geojson, fill_opacity)
    m.add_child(layer)
    _freeze_ids(m)
    return layer


def add_hexagons(
    m: folium.Map,
    cells: Sequence[str],
    colors: Sequence[str],
    tooltips: Sequence[str] | None = None,
    fill_opacity: float = 0.65,
) -> HexLayer:
    """Draw H3 ``cells`` filled with ``colors`` (hex strings); cells crossing ±180° are split.
    ``tooltips`` are plain text (escaped)."""
    return add_hex_layer(m, hex_layer_json(cells, colors, tooltips), fill_opacity)


def hex_summary(lonlat: np.ndarray, labels: np.ndarray, resolution: int, n_classes: int) -> pd.DataFrame:
    """Aggregate points into H3 cells: one row per cell (sorted) with ``count``, ``dominant`` and ``class_counts``.

    ``labels`` are class indices; unlabelled points (-1) are counted but never dominant.
    """
    labels = np.asarray(labels)
    one_hot = (labels[:, None] == np.arange(n_classes)[None, :]).astype(np.float64)
    cells, counts, mix = aggregate_mean(lonlat, one_hot, resolution)
    class_counts = np.rint(mix * counts[:, None]).astype(np.int64)
    return pd.DataFrame(
        {"count": counts, "dominant": class_counts.argmax(axis=1), "class_counts": list(class_counts)},
        index=pd.Index(cells, name="cell"),
    )


SAMPLE_HEX_RESOLUTION = 2
MAX_SAMPLE_MARKERS = 1500


def add_samples(
    m: folium.Map,
    lonlat: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    max_markers: int = MAX_SAMPLE_MARKERS,
    resolution: int = SAMPLE_HEX_RESOLUTION,
    color_by: Literal["class", "count"] = "class",
) -> folium.Layer:
    """Show a dataset's samples: markers when there are at most ``max_markers``, else H3 hexagons.

    Markers are coloured by class. Hexagons (H3 ``resolution``) are coloured by their dominant class
    or, with ``color_by="count"``, by the number of samples (log scale); tooltips give the counts.
    """
    labels = np.asarray(labels)
    if len(lonlat) <= max_markers:
        names = [class_names[k] if k >= 0 else "unlabelled" for k in labels.tolist()]
        tips = [f"{name}\nlon {lon:.2f}, lat {lat:.2f}" for name, (lon, lat) in zip(names, np.asarray(lonlat).tolist())]
        colors = [class_color(k) if k >= 0 else "#808080" for k in labels.tolist()]
        return add_points(m, lonlat, colors, tooltips=tips, name="samples")
    return add_hexagons(m, *sample_hexagons(lonlat, labels, class_names, resolution, color_by))


def sample_hexagons(
    lonlat: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    resolution: int,
    color_by: Literal["class", "count"] = "class",
) -> tuple[list[str], list[str], list[str]]:
    """H3 cells holding the samples, their colours (dominant class, or count on a log scale) and tooltips.

    What :func:`add_hexagons` draws; computed apart so that callers can cache it.
    """
    summary = hex_summary(lonlat, labels, resolution, len(class_names))
    if color_by == "count":
        colors = sequential_colors(summary["count"].to_numpy(), log=True)
    else:
        colors = [class_color(k) for k in summary["dominant"].tolist()]
    tips = [_hex_tooltip(total, row, class_names) for total, row in zip(summary["count"], summary["class_counts"])]
    return summary.index.tolist(), colors, tips


def _hex_tooltip(total: int, class_counts: np.ndarray, class_names: Sequence[str], top: int = 3) -> str:
    order = np.argsort(-class_counts, kind="stable")[:top]
    lines = [f"{class_names[k]}: {class_counts[k]}" for k in order if class_counts[k] > 0]
    return "\n".join([f"{total} samples", *lines])

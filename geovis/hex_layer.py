"""A fast Leaflet layer of coloured H3 hexagons, from pre-built GeoJSON text.

Building a ``folium.GeoJson`` of thousands of cells costs most of a second per page run (polygon
geometry, then serialising the feature dicts); this layer costs a few tens of milliseconds:
- each cell's geometry (antimeridian-safe, coordinates rounded to COORDINATE_DECIMALS) is computed once
  per machine for the whole world at resolutions up to WORLD_MAX_RESOLUTION, kept on disk under the
  cache root and in memory (finer cells are computed on demand);
- the FeatureCollection is assembled as text from those geometry strings, one short property set per
  cell (``c``: fill colour, ``t``: tooltip HTML);
- the layer's script is added to the page as is (branca would compile 1.5 MB of text as a template).
It is drawn on the map's canvas renderer, like every vector layer of :func:`geovis.maps.base_map`.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import h3
import numpy as np
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from core import hexgrid
from core.data.paths import cache_root
from core.files import atomic_write_bytes
from core.hexgrid import cell_polygon, world_cells

COORDINATE_DECIMALS = 4
"""Decimals kept in hexagon coordinates (~10 m): smaller HTML, no visible change."""
WORLD_MAX_RESOLUTION = 3
"""Finest resolution whose whole-world geometry is cached (41 162 cells); finer cells are computed as needed."""


def html_text(value: str) -> str:
    """Escape plain text for a Leaflet tooltip/popup (rendered as HTML); newlines become line breaks."""
    return html.escape(str(value)).replace("\n", "<br>")


def geometry_texts(cells: Sequence[str]) -> list[str]:
    """Compact GeoJSON geometry text of each cell (antimeridian-safe), coordinates rounded to COORDINATE_DECIMALS."""
    geometries = np.array([cell_polygon(cell) for cell in cells], dtype=object)
    coordinates = np.round(shapely.get_coordinates(geometries), COORDINATE_DECIMALS)
    return shapely.to_geojson(shapely.set_coordinates(geometries.copy(), coordinates)).tolist()


def world_geometry_path(resolution: int) -> Path:
    """Disk cache of :func:`world_geometry`, named after everything the geometry depends on (so never stale)."""
    version = hashlib.sha256(
        Path(hexgrid.__file__).read_bytes() + f"|h3 {h3.__version__}|{COORDINATE_DECIMALS}".encode()
    ).hexdigest()[:16]
    return cache_root() / "embedding_map" / f"h3-geometry-res{resolution}-{version}.json"


@lru_cache(maxsize=WORLD_MAX_RESOLUTION + 1)
def world_geometry(resolution: int) -> dict[str, str]:
    """Geometry text (:func:`geometry_texts`) of every cell of the world at ``resolution``, by cell id.

    Computing it takes about 1 s at resolution 2 and 8 s at resolution 3 on a busy 2-core machine, so
    it is kept in memory and on disk (under the cache root); reading it back takes milliseconds.
    """
    path = world_geometry_path(resolution)
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text())
    cells = world_cells(resolution)
    geometry = dict(zip(cells, geometry_texts(cells)))
    with contextlib.suppress(OSError):  # an unwritable cache only costs time
        atomic_write_bytes(path, json.dumps(geometry).encode())
    return geometry


def geometries_of(cells: Sequence[str]) -> list[str]:
    """Geometry texts of ``cells`` (of one resolution or several): from the world's cached geometry for each
    resolution that has one, computed for finer cells."""
    resolutions = np.array([h3.get_resolution(cell) for cell in cells], dtype=np.int64)
    texts = np.empty(len(cells), dtype=object)
    for resolution in np.unique(resolutions).tolist():
        positions = np.flatnonzero(resolutions == resolution)
        group = [cells[i] for i in positions.tolist()]
        if resolution > WORLD_MAX_RESOLUTION:
            texts[positions] = geometry_texts(group)
        else:
            world = world_geometry(resolution)
            texts[positions] = [world[cell] for cell in group]
    return texts.tolist()


def hex_layer_json(cells: Sequence[str], colors: Sequence[str], tooltips: Sequence[str] | None = None) -> str:
    """FeatureCollection text, one feature per cell with properties ``c`` (fill colour) and, with
    ``tooltips`` (plain text, escaped here), ``t`` (tooltip HTML)."""
    if len(colors) != len(cells) or (tooltips is not None and len(tooltips) != len(cells)):
        raise ValueError("cells, colors and tooltips must have the same length")
    features = [
        '{"type":"Feature","geometry":%s,"properties":{"c":%s%s}}'
        % (geometry, json.dumps(color), "" if tooltips is None else ',"t":' + json.dumps(html_text(tooltips[i])))
        for i, (geometry, color) in enumerate(zip(geometries_of(cells), colors))
    ]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


class _RawScript(Element):
    """Script text added to the page as is (branca would compile it as a Jinja template: 0.5 s for 1.5 MB)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        """The text itself."""
        return self.text


class GeoJsonText(MacroElement):
    """A Leaflet GeoJSON layer from pre-built JSON text and fixed Leaflet ``options`` (e.g. a constant style).

    Unlike ``folium.GeoJson`` it never serialises, scans or re-templates the features: a page run that draws
    the same layer again costs nothing (folium spent ~0.15 s per run on Natural Earth's countries).
    """

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = L.geoJson({{ this.geojson }}, {{ this.options|tojson }})"
        ".addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )

    def __init__(self, geojson: str, **options) -> None:
        super().__init__()
        self._name = "GeoJsonText"
        self.geojson = geojson
        self.options = options

    def render(self, **kwargs) -> None:
        """Add the layer's script to the figure (it has no header, html or children)."""
        self.get_root().script.add_child(_RawScript(self._template.module.script(self, kwargs)), name=self.get_name())


class HexLayer(GeoJsonText):
    """Hexagons from :func:`hex_layer_json`: filled with each feature's colour ``c``, tooltip ``t`` when given."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = L.geoJson({{ this.geojson }}, {"
        "style: function (f) { return {color: f.properties.c, weight: 0.5, opacity: 0.9, "
        "fillColor: f.properties.c, fillOpacity: {{ this.fill_opacity }}}; },"
        "onEachFeature: function (f, layer) { if (f.properties.t) { layer.bindTooltip(f.properties.t, {sticky: true}); } }"
        "}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )

    def __init__(self, geojson: str, fill_opacity: float = 0.7) -> None:
        super().__init__(geojson)
        self._name = "HexLayer"
        self.fill_opacity = float(fill_opacity)

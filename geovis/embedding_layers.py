"""What the Embedding map page shows: encoder choices, cached embeddings and colourings, the hex layer.

Cost for the world at H3 resolution 2 (5 882 cells), see ``benchmarks/app_embedding_map.py``: embedding
and k-means a few tenths of a second each; cell geometry 0.6 s+ the first time on a machine, then read
from a disk cache in milliseconds; the hex layer's JSON (coordinates rounded to 4 decimals, 1.5 MB)
20 ms. The layer is a small Leaflet element whose data is that pre-built JSON text, so rendering the
map never serialises thousands of features again; clicks add only the highlighted cells
(``feature_group_to_add``), so the big layer's HTML is unchanged and the browser does not reload it.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import folium
import h3
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely
import streamlit as st
from branca.element import Element, MacroElement
from jinja2 import Template

from core import embedding_map as em
from core import hexgrid
from core.data.base import GeoImageDataset
from core.data.paths import cache_root
from core.hexgrid import cell_polygon, cells_of, cells_to_geojson, world_cells
from core.location import LocationEncoder
from core.train.checkpoint import atomic_write_bytes
from core.train.jobs import RunRecord, list_runs
from geovis import maps
from geovis.browse import clicked_lonlat
from geovis.charts import class_histogram
from geovis.colors import class_color

MAP_KEY = "embedding_map"
RESOLUTION_KEY = "embedding_resolution"
COORDINATE_DECIMALS = 4
"""Decimals kept in hexagon coordinates (~10 m): smaller HTML, no visible change."""

SOURCE_LABELS: dict[em.EncoderSource, str] = {
    "run": "Trained run", "untrained": "Untrained (random weights)", "pretrained": "Pretrained GeoCLIP",
}
_SIMILAR_STYLE = {"color": "#ffff00", "weight": 2.5, "opacity": 1.0, "fill": False}
_CLICKED_STYLE = {"color": "#ffffff", "weight": 4, "opacity": 1.0, "fill": False}


@dataclass(frozen=True)
class Colouring:
    """How to colour the cells: ``"kmeans"`` with ``k`` clusters, or ``"pca"`` (first 3 components as RGB)."""

    method: Literal["kmeans", "pca"] = "kmeans"
    k: int = 8
    seed: int = 0


@dataclass(frozen=True)
class Embedded:
    """The region's cells and their L2-normalised embeddings (read-only, shared between sessions)."""

    cells: tuple[str, ...]
    embeddings: np.ndarray

    def index_of(self, cell: str) -> int | None:
        """Position of ``cell`` among :attr:`cells`, or None when it is outside the region."""
        return _positions(self.cells).get(cell)


@lru_cache(maxsize=16)
def _positions(cells: tuple[str, ...]) -> dict[str, int]:
    return {cell: i for i, cell in enumerate(cells)}


@dataclass(frozen=True)
class EmbeddingView:
    """The coloured cells: cluster per cell (k-means only), fill colours and the hex layer's GeoJSON text."""

    cells: tuple[str, ...]
    clusters: np.ndarray | None
    colors: tuple[str, ...]
    geojson: str


def trained_runs() -> list[RunRecord]:
    """Finished pretrain/finetune runs with a best checkpoint, newest first."""
    return [r for r in list_runs() if r.stage in em.RUN_STAGES and r.has_checkpoint()]


@st.cache_resource(max_entries=2, show_spinner="Loading the location encoder…")
def cached_encoder(choice: em.EncoderChoice) -> LocationEncoder:
    """:func:`core.embedding_map.load_encoder`, shared between sessions (errors are not cached)."""
    return em.load_encoder(choice)


@st.cache_resource(max_entries=6, show_spinner="Embedding the hexagons…")
def cached_embeddings(choice: em.EncoderChoice, resolution: int, bbox: em.BBox | None) -> Embedded:
    """Embeddings of the region's cell centres, cached per (encoder, resolution, region)."""
    cells = tuple(em.region_cells(resolution, bbox))
    embeddings = em.embed_cells(cached_encoder(choice), cells)
    embeddings.flags.writeable = False
    return Embedded(cells, embeddings)


def colour_cells(embeddings: np.ndarray, colouring: Colouring) -> tuple[np.ndarray | None, list[str], list[str] | None]:
    """(cluster per cell or None, fill colour per cell, tooltip per cell or None) for ``colouring``."""
    if colouring.method == "kmeans":
        clusters = em.kmeans_clusters(embeddings, colouring.k, colouring.seed)
        return clusters, [class_color(c) for c in clusters.tolist()], [f"Cluster {c}" for c in clusters.tolist()]
    rgb = em.pca_rgb(embeddings, colouring.seed).tolist()
    return None, ["#{:02x}{:02x}{:02x}".format(*c) for c in rgb], None


def embedding_view(embedded: Embedded, colouring: Colouring) -> EmbeddingView:
    """Colour the embedded cells (:func:`colour_cells`) and build the hex layer's JSON."""
    clusters, colors, tooltips = colour_cells(embedded.embeddings, colouring)
    return EmbeddingView(embedded.cells, clusters, tuple(colors), hex_layer_json(embedded.cells, colors, tooltips))


@st.cache_data(max_entries=16, show_spinner="Colouring the hexagons…")
def cached_view(choice: em.EncoderChoice, resolution: int, bbox: em.BBox | None, colouring: Colouring) -> EmbeddingView:
    """:func:`embedding_view` of :func:`cached_embeddings`, cached per all the inputs."""
    return embedding_view(cached_embeddings(choice, resolution, bbox), colouring)


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


@lru_cache(maxsize=em.MAX_RESOLUTION + 1)
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


def hex_layer_json(cells: Sequence[str], colors: Sequence[str], tooltips: Sequence[str] | None = None) -> str:
    """FeatureCollection text, one feature per cell with properties ``c`` (fill colour) and ``t`` (tooltip HTML)."""
    if len(colors) != len(cells) or (tooltips is not None and len(tooltips) != len(cells)):
        raise ValueError("cells, colors and tooltips must have the same length")
    features = [
        '{"type":"Feature","geometry":%s,"properties":{"c":%s%s}}'
        % (geometry, json.dumps(color), "" if tooltips is None else ',"t":' + json.dumps(html.escape(tooltips[i])))
        for i, (geometry, color) in enumerate(zip(_geometries_of(cells), colors))
    ]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


def _geometries_of(cells: Sequence[str]) -> list[str]:
    """Geometry texts of cells of one resolution, from the world's cached geometry."""
    if not len(cells):
        return []
    world = world_geometry(h3.get_resolution(cells[0]))
    return [world[cell] for cell in cells]


class _RawScript(Element):
    """Script text added to the page as is (branca would compile it as a Jinja template: 0.5 s for 1.5 MB)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        """The text itself."""
        return self.text


class HexLayer(MacroElement):
    """A Leaflet GeoJSON layer from pre-built JSON text (see :func:`hex_layer_json`), drawn on the map's canvas."""

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
        super().__init__()
        self._name = "HexLayer"
        # A fixed id keeps the HTML deterministic; it must differ from base_map's frozen (hex-counter) ids.
        self._id = "embeddinghexes"
        self.geojson = geojson
        self.fill_opacity = float(fill_opacity)

    def render(self, **kwargs) -> None:
        """Add the layer's script to the figure (it has no header, html or children)."""
        self.get_root().script.add_child(_RawScript(self._template.module.script(self, kwargs)), name=self.get_name())


def map_view(bbox: em.BBox | None) -> tuple[tuple[float, float], int]:
    """(centre (lon, lat), zoom) that shows the region."""
    if bbox is None:
        return (10.0, 20.0), 2
    extent = max(bbox.width, 2.0 * (bbox.north - bbox.south))
    return bbox.center, 2 if extent > 200 else 3 if extent > 90 else 4 if extent > 40 else 5


def embedding_folium_map(view: EmbeddingView, bbox: em.BBox | None, basemap: maps.Basemap) -> folium.Map:
    """An offline map of the region with the coloured hexagons (a fresh map: ``st_folium`` mutates it)."""
    center, zoom = map_view(bbox)
    m = maps.base_map(center_lonlat=center, zoom=zoom, basemap=basemap)
    m.add_child(HexLayer(view.geojson))
    return m


def selection_overlay(similar: Sequence[str], clicked: str) -> folium.FeatureGroup:
    """Outlines of the similar cells (yellow) and the clicked one (white), for ``st_folium(feature_group_to_add=...)``."""
    group = folium.FeatureGroup(name="selection")
    for cells, style in ((list(similar), _SIMILAR_STYLE), ([clicked], _CLICKED_STYLE)):
        folium.GeoJson(cells_to_geojson(cells, [{"style": style}] * len(cells)), interactive=False).add_to(group)
    return group


def clicked_cell(map_state: Mapping | None, resolution: int) -> str | None:
    """The H3 cell at ``resolution`` under the last map click in ``st_folium``'s state; None before any click."""
    click = clicked_lonlat(map_state)
    return None if click is None else str(cells_of([click], resolution)[0])


@st.cache_data(max_entries=8, show_spinner=False)
def dataset_cells(dataset_key: str, resolution: int, _dataset: GeoImageDataset) -> tuple[np.ndarray, np.ndarray]:
    """(cell of each located sample at ``resolution``, its label), cached per dataset content and resolution."""
    located = _dataset.has_location
    return cells_of(_dataset.lonlat[located], resolution), _dataset.labels[located]


def similar_table(view: EmbeddingView, similar: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """The similar cells (rows of ``view``), their cosine similarity and, with k-means, their cluster."""
    table = {"hex": [view.cells[i] for i in similar], "cosine similarity": np.round(np.asarray(scores, dtype=float), 4)}
    if view.clusters is not None:
        table["cluster"] = view.clusters[similar]
    return pd.DataFrame(table)


def composition_chart(counts: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """Bar chart of the samples per class in the highlighted cells (classes with none left out)."""
    return class_histogram(list(class_names), counts.tolist(), title="Samples per class in these hexes", hide_empty=True)

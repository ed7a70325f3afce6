"""What the Embedding map page shows: encoder choices, cached embeddings and colourings, the hex layer.

Cost for the world at H3 resolution 2 (5 882 cells), see ``benchmarks/app_embedding_map.py``: embedding
and k-means under 0.1 s each; cell geometry 0.6 s the first time on a machine, then read from a disk
cache in milliseconds; the hex layer's JSON (:mod:`geovis.hex_layer`, 1.5 MB) about 10 ms, built once
per colouring and cached, so rendering the map never serialises thousands of features again. Clicks
add only the highlighted cells (``feature_group_to_add``), so the big layer's HTML is unchanged and the
browser does not reload it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.workflows import embedding_cache
from core.workflows import embedding_map as em
from core.location import loading as encoders
from core.data.base import GeoImageDataset
from core.gis.tables import VectorColumns, embedded_places_layer
from core.hexgrid import cells_of, cells_to_geojson
from core.location import LocationEncoder
from core.gis.region import PolygonRegion
from core.regions import BBox
from core.train.records import RunRecord, list_runs
from geovis import maps
from geovis.hex_layer import hex_layer_json
from geovis.browse import clicked_lonlat
from geovis.charts import class_histogram
from geovis.colors import class_color

MAP_KEY = "embedding_map"
RESOLUTION_KEY = "embedding_resolution"
REGION_KEY = "embedding"
"""Name of the page's region widgets (see :mod:`geovis.region_picker`)."""

SOURCE_LABELS: dict[encoders.EncoderSource, str] = {
    "run": "Trained run", "model": "Exported model folder", "untrained": "Untrained (random weights)",
    "pretrained": "Pretrained GeoCLIP",
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
    return [r for r in list_runs() if r.stage in encoders.RUN_STAGES and r.has_checkpoint()]


@st.cache_resource(max_entries=2, show_spinner="Loading the location encoder…")
def cached_encoder(choice: encoders.EncoderChoice) -> LocationEncoder:
    """:func:`core.location.loading.load_choice`, shared between sessions (errors are not cached)."""
    return encoders.load_choice(choice)


@st.cache_resource(max_entries=6, show_spinner="Embedding the hexagons…")
def cached_embeddings(choice: encoders.EncoderChoice, resolution: int, bbox: BBox | PolygonRegion | None) -> Embedded:
    """Embeddings of the region's cell centres, cached per (encoder, resolution, region) in memory and, for
    GeoCLIP, on disk once per machine (:mod:`core.workflows.embedding_cache`)."""
    cells, embeddings = embedding_cache.grid_embeddings(choice, resolution, bbox, lambda: cached_encoder(choice))
    embeddings.flags.writeable = False
    return Embedded(tuple(cells), embeddings)


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
def cached_view(
    choice: encoders.EncoderChoice, resolution: int, bbox: BBox | PolygonRegion | None, colouring: Colouring
) -> EmbeddingView:
    """:func:`embedding_view` of :func:`cached_embeddings`, cached per all the inputs."""
    return embedding_view(cached_embeddings(choice, resolution, bbox), colouring)


def embedding_folium_map(view: EmbeddingView, bbox: BBox | PolygonRegion | None, basemap: maps.Basemap) -> folium.Map:
    """An offline map of the region (polygons outlined) with the coloured hexagons (a fresh map: ``st_folium``
    mutates it)."""
    center, zoom = maps.view_of(bbox)
    m = maps.base_map(center_lonlat=center, zoom=zoom, basemap=basemap)
    maps.add_hex_layer(m, view.geojson, fill_opacity=0.7)
    maps.add_region_outline(m, bbox)
    return m


def embedded_places(
    choice: encoders.EncoderChoice, embedded: Embedded, view: EmbeddingView, resolution: int,
    lonlat: np.ndarray, places: gpd.GeoDataFrame, vector: VectorColumns,
) -> gpd.GeoDataFrame:
    """``places`` embedded by ``choice``'s encoder, with the k-means cluster of the shown hexagon each lies in
    (-1 outside them; with PCA colours every place gets -1) and the vectors as ``vector`` says."""
    positions = [embedded.index_of(cell) for cell in cells_of(lonlat, resolution).tolist()]
    clusters = [-1 if i is None or view.clusters is None else int(view.clusters[i]) for i in positions]
    return embedded_places_layer(places, encoders.embed_lonlat(cached_encoder(choice), lonlat), clusters, vector)


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

"""Zonal summaries: per polygon of a layer, the mean of per-cell values over the H3 cells it holds.

The spatial join is over H3 cells: a zone holds the cells whose centre lies in it (its polyfill,
:func:`core.gis.region.polyfill`, which is right across the antimeridian and around holes). A cell in two
overlapping zones counts in both. Means are plain means over the cells (cells of one resolution have
near-equal areas). :func:`run_zonal_summary` fills the cells with a location classifier's P(class | x) and
the k-means clusters of a location encoder's embeddings, and summarises both.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from core.workflows import embedding_map as em
from core.gis.region import fold_into_world, polyfill
from core.gis.tables import LocationClassifier, predicted_class_layer
from core.location import LocationEncoder

ZONE = "zone"
"""Column of :func:`zone_cells` and of the summary: the zone's row position in the layer."""


def zone_cells(zones: gpd.GeoDataFrame, resolution: int) -> pd.DataFrame:
    """One row per (zone, cell) pair: the H3 cells at ``resolution`` whose centre lies in each zone (zones past
    ±180° of longitude folded back first)."""
    pairs = [
        (zone, cell) for zone, geometry in enumerate(zones.geometry) for cell in polyfill(fold_into_world(geometry), resolution)
    ]
    return pd.DataFrame(pairs, columns=[ZONE, "cell"])


def _dominant(values: pd.Series) -> int:
    """The most frequent value (the smallest on a tie)."""
    counts = values.value_counts()
    return int(counts[counts == counts.max()].index.min())


def zonal_summary(
    zones: gpd.GeoDataFrame, cells: pd.DataFrame, resolution: int, mean_columns: Sequence[str], mode_column: str | None = None
) -> gpd.GeoDataFrame:
    """``zones`` with ``n_cells``, the mean of each of ``mean_columns`` and (with ``mode_column``) its
    ``dominant_<mode_column>`` over the cells each zone holds (``cells``: a table with a ``cell`` column at
    ``resolution``). A zone holding no cell centre gets ``n_cells`` 0 and NaN / -1."""
    joined = zone_cells(zones, resolution).merge(pd.DataFrame(cells), on="cell", how="inner")
    grouped = joined.groupby(ZONE)
    summary = pd.DataFrame({"n_cells": grouped.size()}).join(grouped[list(mean_columns)].mean())
    if mode_column is not None:
        summary[f"dominant_{mode_column}"] = grouped[mode_column].agg(_dominant)
    summary = summary.reindex(range(len(zones)))
    summary["n_cells"] = summary["n_cells"].fillna(0).astype(np.int64)
    if mode_column is not None:
        summary[f"dominant_{mode_column}"] = summary[f"dominant_{mode_column}"].fillna(-1).astype(np.int64)
    result = zones.reset_index(drop=True).drop(columns=[c for c in summary.columns if c in zones.columns])
    return gpd.GeoDataFrame(pd.concat([result.drop(columns=result.geometry.name), summary], axis=1), geometry=result.geometry, crs=zones.crs)


def run_zonal_summary(
    zones: gpd.GeoDataFrame, classifier: LocationClassifier, encoder: LocationEncoder, resolution: int, k: int = 8
) -> gpd.GeoDataFrame:
    """Per zone: the mean P(class | x) over its cells (``p_<class>`` columns, then ``argmax`` of that mean) and
    the dominant k-means cluster of ``encoder``'s embeddings of the zones' cells. ValueError when no zone holds
    a cell centre at ``resolution`` (choose a finer one)."""
    cells = sorted(set(zone_cells(zones, resolution)["cell"]))
    if not cells:
        raise ValueError(f"no H3 cell centre of resolution {resolution} lies in these zones: choose a finer resolution")
    table = predicted_class_layer(classifier, cells).drop(columns="geometry")
    table["cluster"] = em.kmeans_clusters(em.embed_cells(encoder, cells), k)
    columns = [f"p_{name}" for name in classifier.class_names]
    summary = zonal_summary(zones, table, resolution, columns, "cluster")
    means = summary[columns].to_numpy(dtype=np.float64)
    held = ~np.isnan(means).any(axis=1)
    summary["argmax"] = np.where(held, np.array(classifier.class_names, dtype=object)[np.nan_to_num(means).argmax(axis=1)], None)
    return summary

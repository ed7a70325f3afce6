"""The app's per-place and per-hexagon tables as GIS layers (EPSG:4326), ready for :func:`core.gis.export.write_layer`.

- :func:`samples_layer`: a dataset's located records as points (record, label, class, split, date, site, image);
- :func:`embedding_layer`: embedded H3 cells with k-means cluster, PCA colour and optionally the vector
  (:func:`embedded_places_layer`: the same for points);
- :func:`class_probability_layer` / :func:`predicted_class_layer`: P(class | x) per cell for a class set, with
  the argmax and entropy (:func:`class_probability_columns` gives the same columns for points);
- :func:`heatmap_layer`: a geolocation's P(x | I) per cell, with the probability per km²;
- :func:`probe_residuals_layer`: a probe task's points with the target and each embedding's out-of-fold
  prediction and residual.
Anything else per place or per cell goes through :func:`core.gis.export.points_layer` or
:func:`core.gis.export.hexagon_layer` directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.data.base import GeoImageDataset
from core.embed.columns import with_embedding
from core.gis.export import hexagon_layer, points_layer
from core.hexgrid import cell_centers

if TYPE_CHECKING:  # torch stays unimported for pages that only export samples (Browse)
    import torch

    from core.workflows.geolocate import Geolocation
    from core.probes.report import ProbeReport

VectorColumns = Literal["none", "columns", "list"]


class LocationClassifier(Protocol):
    """P(y | x) of a fine-tuned location model (:class:`core.workflows.predict.Predictor` is one)."""

    class_names: Sequence[str]

    def location_probs(self, lonlat: ArrayLike) -> torch.Tensor: ...


def samples_layer(dataset: GeoImageDataset, indices: Sequence[int] | np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Points of the located records among ``indices`` (default: all): record index, label index (-1:
    unlabelled), class name, split (when the dataset has one), date (UTC), site id and image path."""
    indices = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    indices = indices[dataset.has_location[indices]]
    records = dataset.records.iloc[indices]
    labels = dataset.labels[indices]
    columns = {
        "record": indices,
        "label": labels,
        "class": np.array([dataset.class_names[k] if k >= 0 else "" for k in labels.tolist()], dtype=object),
        **({"split": records["split"].astype(object).to_numpy()} if "split" in records else {}),
        "date": pd.to_datetime(records["timestamp"], utc=True).reset_index(drop=True),
        "site_id": records["site_id"].astype(object).to_numpy(),
        "image": records["image"].astype(object).to_numpy(),
    }
    return points_layer(dataset.lonlat[indices], columns)


def embedding_layer(cells: Sequence[str], embeddings: np.ndarray, k: int = 8, vector: VectorColumns = "none", seed: int = 0) -> gpd.GeoDataFrame:
    """Embedded H3 cells as the Embedding map colours them: ``cluster`` (k-means, ``k`` clusters, 0 the largest),
    ``pca_color`` (first three principal components as hex RGB) and, with ``vector`` "columns" or "list", the
    embedding as ``emb_000…`` columns or one ``embedding`` list column (a list in GeoParquet only), named as
    ``python -m core embed`` names them (:func:`core.embed.columns.with_embedding`)."""
    from core.workflows import embedding_map as em

    embeddings = np.asarray(embeddings, dtype=np.float32)
    columns: dict = {
        "cluster": em.kmeans_clusters(embeddings, k, seed),
        "pca_color": np.array(["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in em.pca_rgb(embeddings, seed).tolist()], dtype=object),
    }
    layer = hexagon_layer(cells, columns)
    return layer if vector == "none" else with_embedding(layer, embeddings, vector)


def embedded_places_layer(
    places: gpd.GeoDataFrame, embeddings: np.ndarray, clusters: ArrayLike | None = None, vector: VectorColumns = "list"
) -> gpd.GeoDataFrame:
    """``places`` (points, attributes kept) with ``cluster`` (e.g. that of the hexagon each lies in, -1 for none)
    when given and, unless ``vector`` is "none", the embedding as ``emb_000…`` columns or one list column
    (:func:`core.embed.columns.with_embedding`)."""
    layer = places.assign(cluster=np.asarray(clusters, dtype=np.int64)) if clusters is not None else places.copy()
    return layer if vector == "none" else with_embedding(layer, embeddings, vector)


def class_probability_columns(probs: np.ndarray, class_names: Sequence[str], classes: Sequence[int] | None = None) -> dict:
    """P(class | x) columns for rows of ``probs`` ``[N, C]``: ``p_<class>`` for each of ``classes`` (default: all),
    then ``argmax`` (the most likely class of all C), ``p_argmax`` and ``entropy`` (nats, over all C)."""
    probs = np.asarray(probs, dtype=np.float64)
    chosen = range(len(class_names)) if classes is None else [int(c) for c in classes]
    best = probs.argmax(axis=1)
    columns = {f"p_{class_names[c]}": probs[:, c] for c in chosen}
    return columns | {
        "argmax": np.array([class_names[c] for c in best.tolist()], dtype=object),
        "p_argmax": probs[np.arange(len(probs)), best],
        "entropy": -(probs * np.log(np.clip(probs, 1e-300, 1.0))).sum(axis=1),
    }


def class_probability_layer(
    cells: Sequence[str], probs: np.ndarray, class_names: Sequence[str], classes: Sequence[int] | None = None
) -> gpd.GeoDataFrame:
    """H3 cells with :func:`class_probability_columns` of ``probs`` (one row per cell)."""
    return hexagon_layer(cells, class_probability_columns(probs, class_names, classes))


def predicted_class_layer(
    classifier: LocationClassifier, cells: Sequence[str], classes: Sequence[int] | None = None
) -> gpd.GeoDataFrame:
    """:func:`class_probability_layer` of ``classifier``'s P(y | x) at the centres of ``cells``."""
    probs = classifier.location_probs(cell_centers(cells)).numpy()
    return class_probability_layer(cells, probs, classifier.class_names, classes)


def predicted_places_layer(
    classifier: LocationClassifier, places: gpd.GeoDataFrame, lonlat: ArrayLike, classes: Sequence[int] | None = None
) -> gpd.GeoDataFrame:
    """``places`` (features in EPSG:4326, their attributes kept) with :func:`class_probability_columns` of
    ``classifier``'s P(y | x) at each one's (lon, lat) row of ``lonlat`` (e.g. a polygon's representative point)."""
    probs = classifier.location_probs(lonlat).numpy()
    return places.assign(**class_probability_columns(probs, classifier.class_names, classes))


def heatmap_layer(result: Geolocation) -> gpd.GeoDataFrame:
    """A geolocation's cells, densest first: ``rank``, ``probability``, ``area_km2``, ``density_per_km2`` and
    each cell's H3 ``resolution`` (a refined grid mixes resolutions)."""
    cells, probs, areas = result.cell_distribution
    return hexagon_layer(
        cells.tolist(),
        {
            "rank": np.arange(1, len(cells) + 1),
            "probability": probs,
            "area_km2": areas,
            "density_per_km2": probs / areas,
            "resolution": np.array([h3.get_resolution(cell) for cell in cells.tolist()]),
        },
    )


def _column_name(label: str) -> str:
    """An embedding label (``run:runs/x:concat``) as a column name every GIS format accepts."""
    return re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_").lower()


def probe_residuals_layer(report: ProbeReport, task: str) -> gpd.GeoDataFrame:
    """The points of probe ``task``: its ``target`` and, per embedding, the out-of-fold prediction
    (``pred_<embedding>``) and residual (``resid_<embedding>``: prediction − target, or 1 where a class is wrong).
    Classes are written by name."""
    probe_task = report.tasks[task]
    names = np.asarray(probe_task.class_names, dtype=object)
    readable = (lambda values: names[values]) if probe_task.kind == "classification" else (lambda values: values)
    columns: dict[str, ArrayLike] = {"target": readable(probe_task.target)}
    for result in (r for r in report.results if r.task == task):
        name = _column_name(result.embedding)
        columns[f"pred_{name}"] = readable(result.oof)
        columns[f"resid_{name}"] = result.residuals(probe_task)
    return points_layer(probe_task.lonlat, columns)

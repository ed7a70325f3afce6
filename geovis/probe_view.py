"""What the Probe page shows: embedding choices, cached tasks and embeddings, the bar chart and the residual map.

Embedded tasks are cached on disk by :mod:`core.probes.tasks` and here per process; embeddings are cached
per (embedding, point set) and probe scores per (features, task, folds), so running the probes again with one
more embedding only embeds and probes that one.
"""

from __future__ import annotations

import hashlib

import folium
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.probes import ProbeReport, ProbeResult, ProbeTask, cross_validate, default_embeddings, embed, embedded_task
from core.probes.embeddings import EmbeddingSpec
from core.probes.suite import points_digest
from geovis import maps
from geovis.colors import sequential_colors
from geovis.markdown_text import escape_markdown

REPORT_KEY = "probe_report"
MAP_KEY = "probe_map"
#: Blue (prediction too low) → white → red (too high), for regression residuals.
DIVERGING = ("#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b")
RIGHT, WRONG = "#1a9850", "#d73027"
KNN_COLOR, LINEAR_COLOR = "#9e9e9e", "#1f77b4"
MAX_MAP_POINTS = 3000


@st.cache_data(show_spinner=False, max_entries=32)
def cached_task(name: str, n_points: int, seed: int) -> ProbeTask:
    """The embedded task ``name`` (disk-cached by the library; kept in memory here)."""
    return embedded_task(name, n_points, seed)


@st.cache_data(show_spinner=False, max_entries=128)
def _cached_embedding(label: str, digest: str, _spec: EmbeddingSpec, _lonlat: np.ndarray) -> np.ndarray:
    return embed(_spec, _lonlat)


def cached_embed(spec: EmbeddingSpec, lonlat: np.ndarray) -> np.ndarray:
    """:func:`core.probes.embed`, cached per (embedding, point set) across reruns and sessions."""
    return _cached_embedding(spec.key, points_digest(lonlat), spec, lonlat)


@st.cache_data(show_spinner=False, max_entries=256)
def _cached_scores(key: str, _features: np.ndarray, _task: ProbeTask, _groups: np.ndarray, _folds: list, method: str, embedding: str) -> ProbeResult:
    return cross_validate(_features, _task, _groups, _folds, method, embedding)


def cached_cross_validate(
    features: np.ndarray, task: ProbeTask, groups: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], method: str = "linear", embedding: str = ""
) -> ProbeResult:
    """:func:`core.probes.cross_validate`, cached per (features, task, folds, method) across reruns and sessions."""
    digest = hashlib.sha256()
    blocks = np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]
    for array in (features, task.lonlat, task.target, blocks, *(index for fold in folds for index in fold)):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(f"{task.name}|{task.kind}|{method}|{len(folds)}|{features.shape}|{features.dtype}".encode())
    return _cached_scores(digest.hexdigest(), features, task, groups, folds, method, embedding)


def embedding_options() -> tuple[list[str], list[str]]:
    """(every embedding the page offers, those selected by default: the baselines, GeoCLIP and the newest run;
    untrained networks are offered, not selected)."""
    from geovis.embedding_layers import trained_runs

    defaults = default_embeddings()
    runs = [f"run:{record.run_dir}" for record in trained_runs()]
    extra = ["encoding:sphereM+", "encoding:grid", "encoding:rff", "untrained:spherical_harmonics"]
    options = list(dict.fromkeys([*defaults, *runs, *extra]))
    selected = [name for name in defaults if not name.startswith("untrained:")]
    return options, selected


def embedding_label(name: str) -> str:
    """How an embedding is named in pickers (a run by its folder name)."""
    for prefix, shown in (("run:", "run "), ("untrained:run:", "untrained run ")):
        if name.startswith(prefix):
            return shown + name.removeprefix(prefix).rsplit("/", 1)[-1]
    return name


def bar_chart(report: ProbeReport, task: str) -> go.Figure:
    """The task's headline metric per embedding, with the spread over folds as error bars (k-NN reference grey)."""
    results = [result for result in report.results if result.task == task]
    metric = results[0].primary
    figure = go.Figure(
        go.Bar(
            x=[embedding_label(result.embedding) for result in results],
            y=[result.mean() for result in results],
            error_y={"type": "data", "array": [result.std() for result in results], "visible": True},
            marker_color=[KNN_COLOR if result.method == "knn" else LINEAR_COLOR for result in results],
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{task} ({'R²' if metric == 'r2' else 'accuracy'}, mean ± std over {report.n_folds} folds)",
        height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10}, yaxis_title=metric,
    )
    if metric == "r2":
        low = min(0.0, min(result.mean() - result.std() for result in results))
        figure.update_yaxes(range=[max(low, -1.0), 1.0])
    else:
        figure.update_yaxes(range=[0.0, 1.0])
    return figure


def residual_colors(residuals: np.ndarray, kind: str) -> list[str]:
    """Point colours: regression residuals on a symmetric diverging scale, classification right/wrong."""
    if kind == "classification":
        return [WRONG if wrong else RIGHT for wrong in residuals]
    bound = float(np.nanpercentile(np.abs(residuals), 95)) or 1.0
    return sequential_colors(residuals, vmin=-bound, vmax=bound, stops=DIVERGING)


def residual_map(report: ProbeReport, task: str, embedding: str, basemap: maps.Basemap) -> folium.Map:
    """The out-of-fold residual of ``embedding`` at each point of ``task`` (at most MAX_MAP_POINTS, evenly thinned)."""
    probe_task = report.tasks[task]
    result = report.result(task, embedding)
    residuals = result.residuals(probe_task)
    shown = np.linspace(0, len(probe_task) - 1, min(len(probe_task), MAX_MAP_POINTS)).astype(int)
    if probe_task.kind == "classification":
        names = probe_task.class_names
        tooltips = [f"{names[probe_task.target[i]]}, predicted {names[result.oof[i]]}" for i in shown]
    else:
        unit = f" {probe_task.unit}" if probe_task.unit else ""
        tooltips = [f"target {probe_task.target[i]:.3g}{unit}, residual {residuals[i]:+.3g}{unit}" for i in shown]
    folium_map = maps.base_map(basemap=basemap)
    maps.add_point_layer(folium_map, probe_task.lonlat[shown], residual_colors(residuals[shown], probe_task.kind), tooltips, radius=3.5, name="residuals")
    return folium_map


def residual_caption(report: ProbeReport, task: str) -> str:
    """What the residual map's colours mean for ``task``."""
    probe_task = report.tasks[task]
    if probe_task.kind == "classification":
        return "Green: predicted right out of fold; red: wrong."
    unit = f" ({escape_markdown(probe_task.unit)})" if probe_task.unit else ""
    return f"Out-of-fold prediction − target{unit}: red too high, blue too low, white right (scale: ±95th percentile)."

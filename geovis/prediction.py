"""Charts and map layers of predictions: class-distribution bars, pins, and P(class | x) over H3 hexagons.

Plain plotly and folium only (no CDN scripts); colours are computed in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import folium
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from core.hexgrid import cell_centers, world_cells
from core.workflows.predict import ClassScore, Photo, Predictor
from geovis.colors import class_color, class_colors, sequential_colors

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "template": "plotly_white"}
PIN_COLOR = "#ff1744"
MAX_COMPARED_PLACES = 8
"""At most this many places are drawn side by side in one grouped chart."""
#: The Predict chart's title before a click: the class prior, which P(y | x) departs from.
PRIOR_TITLE = "P(y), the class frequencies in training (click the map for P(y | x))"


@dataclass
class Pin:
    """Where the Predict page predicts: the latest of the photo's GPS position and the user's clicks.

    A new upload moves the pin to its photo's GPS position (or removes it when the photo has none, so the
    user is asked to click), even when the same bytes were uploaded before under another name; a new click
    moves the pin there.
    """

    lonlat: tuple[float, float] | None = None
    source: str = ""
    last_click: tuple[float, float] | None = None
    upload: str | None = None  # the uploader's file id of the upload last seen (new for every upload)

    def update(self, click: tuple[float, float] | None, photo: Photo | None, upload: str | None) -> None:
        """Follow a (possibly unchanged) map click and the (possibly unchanged) uploaded photo, whose upload
        is named by ``upload`` (Streamlit's file id; None with no usable photo)."""
        if upload != self.upload:
            self.upload = upload
            if photo is not None:
                self.lonlat, self.source = photo.lonlat, "the photo's GPS position" if photo.lonlat else ""
        if click is not None and click != self.last_click:
            self.last_click = click
            self.lonlat, self.source = click, "your click"


def distribution_figure(scores: Sequence[ClassScore], title: str) -> go.Figure:
    """Horizontal bars of the top classes of one distribution, most probable on top, in class colours.

    Built without plotly's property validation, which cost a Predict click 15–40 ms (most of it copying the
    named template); the template is passed resolved, and a test checks that plotly's validation accepts
    the figure unchanged. Do not mutate the returned figure's template: it is plotly's shared object.
    """
    bar = {
        "type": "bar", "orientation": "h", "x": [s.probability for s in scores], "y": [s.name for s in scores],
        "marker": {"color": [class_color(s.index) for s in scores]}, "text": [f"{s.probability:.0%}" for s in scores],
        "textposition": "auto", "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
    }
    layout = {
        **_LAYOUT, "template": pio.templates[_LAYOUT["template"]], "title": {"text": title}, "height": 110 + 30 * len(scores),
        "yaxis": {"autorange": "reversed"}, "xaxis": {"range": [0, 1], "tickformat": ".0%"},
    }
    return go.Figure({"data": [bar], "layout": layout}, _validate=False)


def compared_classes(distributions: np.ndarray, k: int) -> list[int]:
    """Class indices to compare: the union of each distribution's top ``k``, by their highest probability."""
    top = {int(c) for row in distributions for c in np.argsort(-row, kind="stable")[:k]}
    return sorted(top, key=lambda c: -float(distributions[:, c].max()))


def grouped_distribution_figure(
    labels: Sequence[str], distributions: np.ndarray, class_names: Sequence[str], k: int = 5
) -> go.Figure:
    """Grouped bars: for each class in the union of the top ``k``, one bar per location (``distributions`` ``[L, C]``)."""
    classes = compared_classes(distributions, k)
    figure = go.Figure()
    for label, row, color in zip(labels, distributions, class_colors(len(labels))):
        figure.add_bar(
            name=label, x=[class_names[c] for c in classes], y=[float(row[c]) for c in classes], marker_color=color,
            hovertemplate=f"{label}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
        )
    figure.update_layout(
        title="Predicted class distribution per location, P(y | x)", barmode="group", height=420,
        legend={"orientation": "h", "y": -0.35}, **_LAYOUT,
    )
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return figure


def pins(points: Sequence[tuple[str, tuple[float, float]]]) -> folium.FeatureGroup:
    """Labelled pins at (label, (lon, lat)) for ``st_folium(feature_group_to_add=...)``: moving them never reloads the map."""
    group = folium.FeatureGroup(name="pins")
    for label, (lon, lat) in points:
        folium.CircleMarker(
            [lat, lon], radius=8, color="#ffffff", weight=2, fill=True, fill_color=PIN_COLOR, fill_opacity=1.0,
            tooltip=folium.Tooltip(label, permanent=True, direction="right"),
        ).add_to(group)
    return group


def class_probability_hexagons(
    predictor: Predictor, class_index: int, resolution: int
) -> tuple[list[str], list[str], list[str], float]:
    """P(class | x) at the centre of every H3 cell of the world: cells, colours (viridis from 0 to the
    maximum), tooltips, and that maximum."""
    cells = world_cells(resolution)
    probs = predictor.location_probs(cell_centers(cells))[:, class_index].numpy().astype(np.float64)
    top = max(float(probs.max()), 1e-6)
    name = predictor.class_names[class_index]
    tooltips = [f"P({name} | x) = {p:.3f}" for p in probs.tolist()]
    return cells, sequential_colors(probs, vmin=0.0, vmax=top), tooltips, top

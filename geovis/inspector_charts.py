"""Figures of the Encoder inspector: globe heatmaps (kernel, embedding dimension, principal component), the
zoomed kernel on its azimuthal equidistant grid, and the effective-resolution profile.

Plain plotly heatmaps and lines (no ``scatter_geo``: its world topology comes from a CDN). The globe is
drawn in plate carrée, poles included, with the Natural Earth country outlines as lines when the local
assets are built. Values are rounded to 3 decimals: a world raster at 1° is then ~0.4 MB of JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import get_colorscale

from core.workflows.encoder_inspector import LocalGrid, ResolutionProfile, WorldRaster
from geovis import assets
from geovis.colors import class_colors

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "template": "plotly_white"}
KERNEL_COLORSCALE = get_colorscale("RdBu_r")
"""Diverging: similarity 1 red, 0 white, -1 blue (resolved: plotly.js knows no "_r" names)."""
_POINT_STYLE = {"symbol": "x", "size": 10, "color": "#111111", "line": {"width": 2, "color": "#ffffff"}}
_CONTOUR_COLOR = "#111111"
_DASHES = ("solid", "dot")
_SYMBOLS = ("circle", "square")


@functools.cache
def _outline_trace() -> dict | None:
    """The Natural Earth country rings as one line trace (None between rings), or None when the local assets
    are not built."""
    try:
        features = assets.natural_earth("countries-110m")["features"]
    except assets.MissingAssetsError:
        return None
    xs: list[float | None] = []
    ys: list[float | None] = []
    for feature in features:
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for ring in (ring for polygon in polygons for ring in polygon):
            xs += [point[0] for point in ring] + [None]
            ys += [point[1] for point in ring] + [None]
    return {
        "type": "scatter", "x": xs, "y": ys, "mode": "lines", "line": {"color": "rgba(40,40,40,0.55)", "width": 0.7},
        "hoverinfo": "skip", "showlegend": False,
    }


def _point_trace(x: float, y: float) -> dict:
    return {"type": "scatter", "x": [x], "y": [y], "mode": "markers", "marker": _POINT_STYLE, "hoverinfo": "skip", "showlegend": False}


def _heatmap_figure(data: list[dict], title: str, x_axis: dict, y_axis: dict) -> go.Figure:
    """A square-aspect heatmap figure in the app's template, built without plotly's per-property validation
    (a third of a click's time for a 16 000-pixel globe with outlines); a test checks that plotly's validation
    accepts the figures unchanged. Do not mutate the returned figure's template: it is plotly's shared object."""
    layout = {
        **_LAYOUT, "template": pio.templates[_LAYOUT["template"]], "title": {"text": title}, "height": 330,
        "xaxis": {"showgrid": False, "zeroline": False, "constrain": "domain", **x_axis},
        "yaxis": {"showgrid": False, "zeroline": False, "scaleanchor": "x", "constrain": "domain", **y_axis},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def globe_figure(
    raster: WorldRaster, per_cell: np.ndarray, title: str, point: tuple[float, float] | None = None,
    *, symmetric: bool = True, value_name: str = "cos",
) -> go.Figure:
    """A world heatmap of the per-cell values ``per_cell`` (painted through ``raster``), with the point
    (lon, lat) marked. ``symmetric``: the colour range is ±max|value| (±1 for a kernel)."""
    z = np.round(raster.paint(per_cell).astype(np.float64), 3)
    bound = float(np.nanmax(np.abs(z))) or 1.0
    heatmap = {
        "type": "heatmap", "x": raster.lons, "y": raster.lats, "z": z, "colorscale": KERNEL_COLORSCALE,
        "colorbar": {"title": {"text": value_name}, "thickness": 12},
        "hovertemplate": f"lon %{{x:.1f}}, lat %{{y:.1f}}<br>{value_name} %{{z:.3f}}<extra></extra>",
        **({"zmin": -bound, "zmax": bound, "zmid": 0.0} if symmetric else {}),
    }
    outlines = _outline_trace()
    data = [heatmap, *([outlines] if outlines else []), *([_point_trace(*point)] if point is not None else [])]
    return _heatmap_figure(data, title, {"range": [-180, 180], "title": {"text": "longitude"}}, {"range": [-90, 90], "title": {"text": "latitude"}})


def local_figure(grid: LocalGrid, values: np.ndarray, title: str) -> go.Figure:
    """The zoomed kernel on its azimuthal equidistant grid (km east/north of the point), with the ½ contour."""
    z = np.round(values.astype(np.float64), 3)
    heatmap = {
        "type": "heatmap", "x": grid.east_km, "y": grid.north_km, "z": z, "colorscale": KERNEL_COLORSCALE,
        "zmin": -1.0, "zmax": 1.0, "zmid": 0.0, "colorbar": {"title": {"text": "cos"}, "thickness": 12},
        "hovertemplate": "%{x:.0f} km east, %{y:.0f} km north<br>cos %{z:.3f}<extra></extra>",
    }
    half = {
        "type": "contour", "x": grid.east_km, "y": grid.north_km, "z": z, "name": "cos = ½", "showscale": False,
        "contours": {"start": 0.5, "end": 0.5, "size": 1.0, "coloring": "lines"}, "line": {"width": 1.5},
        "colorscale": [[0.0, _CONTOUR_COLOR], [1.0, _CONTOUR_COLOR]],
        "hoverinfo": "skip",
    }
    return _heatmap_figure([heatmap, half, _point_trace(0.0, 0.0)], title, {"title": {"text": "km east"}}, {"title": {"text": "km north"}})


def resolution_figure(
    profiles: Mapping[str, ResolutionProfile], at_point: Mapping[str, Mapping[str, float]] | None = None,
    point_lat: float | None = None,
) -> go.Figure:
    """The effective resolution (km, log scale) against latitude: one colour per encoder, one dash per direction;
    ``at_point`` (per encoder label, km per direction) is marked at ``point_lat``."""
    figure = go.Figure()
    for (label, profile), color in zip(profiles.items(), class_colors(len(profiles))):
        for (direction, km), dash, symbol in zip(profile.km.items(), _DASHES, _SYMBOLS):
            figure.add_scatter(
                x=profile.latitudes, y=km, mode="lines+markers", name=f"{label} · {direction}",
                line={"color": color, "dash": dash}, marker={"symbol": symbol}, connectgaps=False,
                hovertemplate=f"{label} · {direction}<br>lat %{{x:.0f}}°: %{{y:,.0f}} km<extra></extra>",
            )
            if at_point is not None and point_lat is not None and label in at_point:
                figure.add_scatter(
                    x=[point_lat], y=[at_point[label][direction]], mode="markers", name=f"{label} · {direction} at x₀",
                    marker={"color": color, "symbol": symbol, "size": 13, "line": {"width": 2, "color": "#111111"}},
                    hovertemplate=f"at x₀, {direction}: %{{y:,.0f}} km<extra></extra>",
                )
    lon = next(iter(profiles.values())).lon if profiles else 0.0
    figure.update_layout(
        title=f"Distance at which cos falls to ½ — along the meridian at {lon:g}°, and at x₀ (large markers)", height=400,
        legend={"orientation": "h", "y": -0.25}, **_LAYOUT,
    )
    figure.update_xaxes(title="latitude (°)", range=[-90, 90])
    figure.update_yaxes(title="km (log)", type="log", dtick=1)
    return figure

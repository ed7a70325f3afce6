"""The Encoder inspector's figures: valid plotly figures (built without per-property validation) showing the
values they are given, in the app's template."""

import json

import numpy as np
import plotly.graph_objects as go

from core.workflows import encoder_inspector as ei
from geovis import inspector_charts as charts
from tests.app.apptest import plotly_array


def assert_plotly_accepts(figure: go.Figure) -> dict:
    """The figure's JSON, checked to be what plotly's validation makes of it (nothing it would change or refuse)."""
    spec = json.loads(figure.to_json())
    assert json.loads(go.Figure(figure.to_dict()).to_json()) == spec
    assert spec["layout"]["template"] == json.loads(go.Figure(layout={"template": "plotly_white"}).to_json())["layout"]["template"]
    return spec


def test_the_globe_figure_paints_the_cells_through_the_raster_with_outlines_and_the_point(built_assets):
    raster = ei.world_raster(0, 10.0)
    values = np.linspace(-0.5, 0.25, 122)
    spec = assert_plotly_accepts(charts.globe_figure(raster, values, "kernel", (179.9, 10.0)))
    heatmap, outlines, point = spec["data"]
    np.testing.assert_array_equal(plotly_array(heatmap["z"]), np.round(values[raster.cell_index], 3))
    assert (heatmap["zmin"], heatmap["zmax"], heatmap["zmid"]) == (-0.5, 0.5, 0.0), "symmetric range"
    assert outlines["mode"] == "lines" and None in outlines["x"] and len(outlines["x"]) > 1000
    assert (list(point["x"]), list(point["y"])) == ([179.9], [10.0])
    plain = charts.globe_figure(raster, values, "pc", symmetric=False, value_name="value").to_dict()
    assert "zmin" not in plain["data"][0] and len(plain["data"]) == 2


def test_the_local_figure_draws_the_kernel_and_its_one_half_contour():
    grid = ei.local_grid((0.0, 0.0), 100.0, 5)
    values = np.random.default_rng(0).uniform(-1, 1, (5, 5))
    heatmap, contour, centre = assert_plotly_accepts(charts.local_figure(grid, values, "zoom"))["data"]
    np.testing.assert_array_equal(plotly_array(heatmap["z"]), np.round(values, 3))
    assert contour["contours"]["start"] == contour["contours"]["end"] == 0.5
    assert {color for _, color in contour["colorscale"]} == {"#111111"}, "a black line (lines take the colour scale)"
    assert plotly_array(heatmap["x"]).tolist() == [-100.0, -50.0, 0.0, 50.0, 100.0] and list(centre["x"]) == [0.0]


def test_the_resolution_figure_has_a_line_per_encoder_and_direction_and_marks_the_point():
    profile = ei.ResolutionProfile(0.0, np.array([-10.0, 0.0, 10.0]), {"north–south": np.array([1.0, 2.0, np.nan]), "east–west": np.ones(3)})
    figure = charts.resolution_figure({"a": profile, "b": profile}, {"a": {"north–south": 5.0, "east–west": 6.0}}, 48.0)
    names = [trace.name for trace in figure.data]
    assert names == [
        "a · north–south", "a · north–south at x₀", "a · east–west", "a · east–west at x₀", "b · north–south", "b · east–west",
    ]
    assert figure.data[1].x == (48.0,) and figure.data[1].y == (5.0,)
    assert figure.layout.yaxis.type == "log"

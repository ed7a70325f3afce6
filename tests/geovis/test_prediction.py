"""The Predict page's chart: a valid plotly figure in the app's template, built without per-property validation."""

import plotly.graph_objects as go
import plotly.io as pio

from core.workflows.predict import ClassScore
from geovis import prediction
from geovis.colors import class_color


def test_the_distribution_figure_is_what_plotlys_validation_accepts_unchanged():
    figure = prediction.distribution_figure([ClassScore(3, "forest", 0.61), ClassScore(0, "water", 0.3)], "P(y | x)")
    spec = figure.to_dict()
    assert go.Figure(spec).to_dict() == spec
    [bar] = spec["data"]
    assert bar["type"] == "bar" and bar["y"] == ["forest", "water"] and bar["x"] == [0.61, 0.3]
    assert bar["marker"]["color"] == [class_color(3), class_color(0)] and bar["text"] == ["61%", "30%"]
    assert spec["layout"]["title"]["text"] == "P(y | x)" and spec["layout"]["height"] == 170
    assert spec["layout"]["template"] == pio.templates["plotly_white"].to_plotly_json()

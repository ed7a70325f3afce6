"""Colours computed in Python and the plain plotly charts."""

import plotly.graph_objects as go
import pytest

from geovis import charts, colors


def test_categorical_palette_is_distinct_and_cycles():
    palette = colors.class_colors(17)
    assert len(set(palette)) == 17 and all(c.startswith("#") and len(c) == 7 for c in palette)
    assert colors.class_color(len(colors.CATEGORICAL)) == colors.class_color(0)


def test_sequential_colors_span_the_colormap():
    assert colors.sequential_colors([0.0, 5.0, 10.0]) == ["#440154", "#21918c", "#fde725"]
    assert colors.sequential_colors([1, 10, 100], log=True) == ["#440154", "#21918c", "#fde725"]
    assert colors.sequential_colors([-5.0, 20.0], vmin=0.0, vmax=10.0) == ["#440154", "#fde725"]
    assert colors.sequential_colors([3.0, 3.0]) == ["#21918c", "#21918c"]
    assert colors.sequential_colors([float("nan"), 1.0, 2.0])[0] == "#808080"
    with pytest.raises(ValueError, match="> 0"):
        colors.sequential_colors([0.0, 1.0], log=True)


def test_class_histogram_bars_follow_names_and_colours():
    figure = charts.class_histogram(["a", "b", "c"], [3, 0, 5], hide_empty=True)
    bar = figure.data[0]
    assert isinstance(bar, go.Bar) and list(bar.y) == ["a", "c"] and list(bar.x) == [3, 5]
    assert list(bar.marker.color) == [colors.class_color(0), colors.class_color(2)]
    with pytest.raises(ValueError, match="2 names for 3 counts"):
        charts.class_histogram(["a", "b"], [1, 2, 3])


def test_split_breakdown_and_counts():
    splits = ["test", "train", "train", "val", "train", "holdout"]
    labels = [0, 1, 1, 2, -1, 0]
    assert list(charts.split_sizes(splits).items()) == [("train", 3), ("val", 1), ("test", 1), ("holdout", 1)]
    table = charts.counts_by_split(labels, splits, 3)
    assert table == {"train": [0, 2, 0], "val": [0, 0, 1], "test": [1, 0, 0], "holdout": [1, 0, 0]}
    figure = charts.split_breakdown(["x", "y", "z"], table)
    assert [trace.name for trace in figure.data] == ["x", "y", "z"]
    assert list(figure.data[1].x) == [2, 0, 0, 0] and list(figure.data[1].y) == ["train", "val", "test", "holdout"]
    assert figure.layout.barmode == "stack"

"""Plain plotly charts (no geo charts: those fetch topology from a CDN) from names and counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from geovis.colors import class_colors

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "template": "plotly_white"}


def class_histogram(
    names: Sequence[str],
    counts: Sequence[int],
    colors: Sequence[str] | None = None,
    title: str = "Samples per class",
    hide_empty: bool = False,
) -> go.Figure:
    """Horizontal bar chart of ``counts`` per class name, coloured per class (categorical palette by default)."""
    if len(names) != len(counts):
        raise ValueError(f"{len(names)} names for {len(counts)} counts")
    colors = list(colors) if colors is not None else class_colors(len(names))
    rows = [(n, int(c), col) for n, c, col in zip(names, counts, colors) if c > 0 or not hide_empty]
    figure = go.Figure(
        go.Bar(
            x=[c for _, c, _ in rows],
            y=[n for n, _, _ in rows],
            orientation="h",
            marker_color=[col for _, _, col in rows],
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    figure.update_layout(title=title, height=120 + 22 * len(rows), yaxis={"autorange": "reversed"}, **_LAYOUT)
    figure.update_xaxes(title="samples")
    return figure


def split_breakdown(
    class_names: Sequence[str],
    counts_by_split: Mapping[str, Sequence[int]],
    colors: Sequence[str] | None = None,
    title: str = "Classes per split",
) -> go.Figure:
    """Stacked horizontal bars: one bar per split (``counts_by_split`` name -> per-class counts), one colour per class."""
    colors = list(colors) if colors is not None else class_colors(len(class_names))
    splits = list(counts_by_split)
    figure = go.Figure()
    for k, name in enumerate(class_names):
        values = [int(counts_by_split[s][k]) for s in splits]
        if any(values):
            figure.add_bar(
                name=name, x=values, y=splits, orientation="h", marker_color=colors[k],
                hovertemplate=f"{name}: %{{x}}<extra>%{{y}}</extra>",
            )
    figure.update_layout(
        title=title, barmode="stack", height=140 + 40 * len(splits), legend={"font": {"size": 10}},
        yaxis={"autorange": "reversed"}, **_LAYOUT
    )
    figure.update_xaxes(title="samples")
    return figure


#: Conventional split order; other split names follow alphabetically.
SPLIT_ORDER = ("train", "val", "test")


def _split_key(name: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else len(SPLIT_ORDER), name)


def split_sizes(splits: Sequence[str]) -> dict[str, int]:
    """Number of records per split name, in train/val/test order."""
    counts = Counter(splits)
    return {name: counts[name] for name in sorted(counts, key=_split_key)}


def counts_by_split(labels: Sequence[int], splits: Sequence[str], n_classes: int) -> dict[str, list[int]]:
    """Per-class counts for each split name (train/val/test order); labels < 0 (unlabelled) are not counted."""
    table: dict[str, list[int]] = {name: [0] * n_classes for name in sorted(set(splits), key=_split_key)}
    for label, split in zip(labels, splits):
        if label >= 0:
            table[split][int(label)] += 1
    return table

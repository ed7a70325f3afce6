"""Plain plotly charts and tables of training runs: loss parts per step, validation metrics per epoch,
overlaid validation curves of several runs, and the run list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from core.workflows.jobs import Job
from geovis.colors import class_colors

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "template": "plotly_white", "height": 320}


def _lines(rows: Sequence[Mapping[str, float]], x: str, names: Sequence[str], title: str, x_title: str) -> go.Figure:
    figure = go.Figure()
    for name, color in zip(names, class_colors(len(names))):
        points = [(row[x], row[name]) for row in rows if row.get(name) is not None]
        figure.add_trace(
            go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=name, mode="lines+markers" if len(points) < 30 else "lines", line_color=color)
        )
    figure.update_layout(title=title, legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    figure.update_xaxes(title=x_title)
    return figure


def loss_parts_figure(steps: Sequence[Mapping[str, float]]) -> go.Figure:
    """The total loss and each of its parts per optimiser step (``steps`` as from :meth:`Job.steps`)."""
    names = list(dict.fromkeys(name for row in steps for name in row if name not in ("step", "epoch")))
    return _lines(steps, "step", names, "Training loss and its parts", "step")


def validation_figure(epochs: Sequence[Mapping[str, float]]) -> go.Figure:
    """Every validation metric per epoch (``epochs`` as from :meth:`Job.epoch_metrics`); scores on a second axis."""
    names = list(dict.fromkeys(name for row in epochs for name in row if name.startswith("val_")))
    figure = _lines(epochs, "epoch", names, "Validation metrics (losses left, scores right)", "epoch")
    figure.for_each_trace(lambda trace: trace.update(yaxis="y2") if "loss" not in trace.name else None)
    figure.update_layout(yaxis={"title": "loss"}, yaxis2={"title": "score", "overlaying": "y", "side": "right", "showgrid": False})
    return figure


def compare_curves_figure(histories: Mapping[str, pd.DataFrame], metric: str) -> go.Figure:
    """``metric`` per epoch for several runs (run name → its history.csv frame), overlaid."""
    figure = go.Figure()
    for (name, history), color in zip(histories.items(), class_colors(len(histories))):
        if metric in history.columns:
            figure.add_trace(go.Scatter(x=history["epoch"], y=history[metric], name=name, mode="lines+markers", line_color=color))
    figure.update_layout(title=f"{metric} per epoch", legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    figure.update_xaxes(title="epoch")
    return figure


def shared_metrics(histories: Mapping[str, pd.DataFrame]) -> list[str]:
    """Validation metrics that every one of ``histories`` recorded, in first-seen order."""
    frames = [h for h in histories.values() if not h.empty]
    if not frames:
        return []
    return [c for c in frames[0].columns if c.startswith("val_") and all(c in h.columns for h in frames)]


def jobs_table(jobs: Sequence[Job]) -> pd.DataFrame:
    """A session's jobs: kind (stage or sweep), status, queue position, epoch and what is happening."""
    return pd.DataFrame(
        [
            {
                "job": job.id,
                "kind": job.kind,
                "encoding": job.config.location["encoding"],
                "status": job.status,
                "queue position": job.position or None,
                "epoch": "" if job.plan else f"{job.epoch} / {job.epochs}",
                "message": job.error or job.message,
            }
            for job in jobs
        ]
    )


def result_table(metrics: Mapping[str, object]) -> pd.DataFrame:
    """A finished run's test and best-validation metrics, one row each."""
    shown = {k: v for k, v in metrics.items() if k.startswith(("test_", "best_val"))}
    return pd.DataFrame({"value": pd.Series(shown, dtype=float)})


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`core.train.records.compare_runs` table turned to one column per run, values as short text."""
    return table.T.map(lambda v: "" if v is None or v != v else f"{v:.4g}" if isinstance(v, float) else str(v))

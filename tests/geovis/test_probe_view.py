"""How the Probe page names embeddings and reuses probe scores across reruns."""

import numpy as np
import pytest

from core.coords import sample_sphere, unit_vectors
from core.probes import ProbeTask, block_groups, blocked_folds, cross_validate
from geovis import probe_view
from geovis.probe_view import embedding_label


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("run:/work/runs/pretrain-1", "run pretrain-1"),
        ("run:pretrain-1:concat", "run pretrain-1:concat"),  # a report label (folder name and layer)
        ("untrained:run:/work/runs/pretrain-1", "untrained run pretrain-1"),
        ("untrained:run:pretrain-1", "untrained run pretrain-1"),
        ("encoding:spherical_harmonics:degree=10", "encoding:spherical_harmonics:degree=10"),
    ],
)
def test_runs_are_named_by_their_folder(name, shown):
    assert embedding_label(name) == shown


def test_probe_scores_are_reused_for_the_same_features_task_and_folds(monkeypatch):
    lonlat = sample_sphere(400, np.random.default_rng(11))
    task = ProbeTask("cached_sin_lat", "regression", lonlat, np.sin(np.radians(lonlat[:, 1])))
    groups, _ = block_groups(lonlat, resolution=0)
    folds = blocked_folds(groups)
    features = unit_vectors(lonlat).astype(np.float32)
    calls = []

    def counted(*args):
        calls.append(args[-1])
        return cross_validate(*args)

    monkeypatch.setattr(probe_view, "cross_validate", counted)
    first = probe_view.cached_cross_validate(features, task, groups, folds, "linear", "xyz")
    again = probe_view.cached_cross_validate(features, task, groups, folds, "linear", "xyz")
    assert calls == ["xyz"] and np.array_equal(first.oof, again.oof) and first.mean() == again.mean() > 0.99
    probe_view.cached_cross_validate(features * 2, task, groups, folds, "linear", "xyz")  # other features: scored again
    probe_view.cached_cross_validate(features, task, groups, folds, "knn", "")  # another method: scored again
    assert len(calls) == 3

"""How the Probe page names embeddings in its pickers and charts."""

import pytest

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

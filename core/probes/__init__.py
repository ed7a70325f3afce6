"""Transfer probes: how much a frozen location embedding knows about the world.

>>> from core.probes import embedded_task, run_probes
>>> report = run_probes(["xyz", "encoding:spherical_harmonics:degree=10", "geoclip"], [embedded_task("climate")])
>>> print(report.to_markdown())

- :mod:`core.probes.embeddings`: embeddings by name (raw lon/lat, xyz, bare encodings, untrained
  encoders, GeoCLIP, trained runs at a chosen layer);
- :mod:`core.probes.tasks`: probe tasks and the embedded ones built from installed packages
  (:mod:`core.probes.targets` computes the continuous targets);
- :mod:`core.probes.csv_task`: a task from the user's own CSV;
- :mod:`core.probes.cv`: spatially blocked cross-validation of a linear probe and a k-NN reference;
- :mod:`core.probes.report` / :mod:`core.probes.suite`: the probe table.

The names below are resolved on first use (PEP 562), as in :mod:`core.location`: the submodules import one
another, and a package ``__init__`` importing them eagerly would put each on an import cycle.
"""

from __future__ import annotations

from core.lazy_exports import lazy_exports

_EXPORTS = {
    "DEFAULT_FOLDS": "core.probes.cv",
    "EMBEDDED_TASKS": "core.probes.tasks",
    "METRICS": "core.probes.cv",
    "RUN_LAYERS": "core.probes.embeddings",
    "EmbeddingError": "core.probes.embeddings",
    "EmbeddingSpec": "core.probes.embeddings",
    "ProbeReport": "core.probes.report",
    "ProbeResult": "core.probes.cv",
    "ProbeTask": "core.probes.tasks",
    "ProbeTaskError": "core.probes.csv_task",
    "block_groups": "core.probes.cv",
    "blocked_folds": "core.probes.cv",
    "choose_block_resolution": "core.probes.cv",
    "cross_validate": "core.probes.cv",
    "default_embeddings": "core.probes.embeddings",
    "embed": "core.probes.embeddings",
    "embedded_task": "core.probes.tasks",
    "load_task": "core.probes.suite",
    "parse_embedding": "core.probes.embeddings",
    "read_task_csv": "core.probes.csv_task",
    "run_probes": "core.probes.suite",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

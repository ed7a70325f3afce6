"""Transfer probes: how much a frozen location embedding knows about the world.

>>> from core.probes import embedded_task, run_probes
>>> report = run_probes(["xyz", "encoding:spherical_harmonics:degree=10", "geoclip"], [embedded_task("climate")])
>>> print(report.to_markdown())

- :mod:`core.probes.embeddings`: embeddings by name (raw lon/lat, xyz, bare encodings, untrained
  encoders, GeoCLIP, trained runs at a chosen layer);
- :mod:`core.probes.tasks`: probe tasks and the embedded ones built from installed packages;
- :mod:`core.probes.csv_task`: a task from the user's own CSV;
- :mod:`core.probes.cv`: spatially blocked cross-validation of a linear probe and a k-NN reference;
- :mod:`core.probes.report` / :mod:`core.probes.suite`: the probe table.
"""

from core.probes.csv_task import ProbeTaskError, read_task_csv
from core.probes.cv import DEFAULT_FOLDS, METRICS, ProbeResult, block_groups, blocked_folds, choose_block_resolution, cross_validate
from core.probes.embeddings import RUN_LAYERS, EmbeddingError, EmbeddingSpec, default_embeddings, embed, parse_embedding
from core.probes.report import ProbeReport
from core.probes.suite import load_task, run_probes
from core.probes.tasks import EMBEDDED_TASKS, ProbeTask, embedded_task

__all__ = [
    "DEFAULT_FOLDS", "EMBEDDED_TASKS", "METRICS", "RUN_LAYERS", "EmbeddingError", "EmbeddingSpec", "ProbeReport", "ProbeResult",
    "ProbeTask", "ProbeTaskError", "block_groups", "blocked_folds", "choose_block_resolution", "cross_validate", "default_embeddings",
    "embed", "embedded_task", "load_task", "parse_embedding", "read_task_csv", "run_probes",
]

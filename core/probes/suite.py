"""Run every embedding's probes on every task under the same spatially blocked folds."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.probes.cv import DEFAULT_FOLDS, ProbeResult, block_groups, blocked_folds, cross_validate
from core.probes.embeddings import EmbeddingSpec, as_spec, embed
from core.probes.report import ProbeReport
from core.probes.csv_task import read_task_csv
from core.probes.tasks import DEFAULT_POINTS, EMBEDDED_TASKS, ProbeTask, TaskKind, embedded_task

#: Progress callback: (fraction done in [0, 1], what is happening).
Progress = Callable[[float, str], None]
#: How features are computed: (spec, lonlat [N, 2]) -> [N, D]; the app passes a cached one.
EmbedFunction = Callable[[EmbeddingSpec, np.ndarray], np.ndarray]
#: How a probe is scored: :func:`~core.probes.cv.cross_validate`'s signature; the app passes a cached one.
ScoreFunction = Callable[..., ProbeResult]


def load_task(
    name_or_csv: str | Path, n_points: int = DEFAULT_POINTS, seed: int = 0, kind: TaskKind | None = None, target_column: str | None = None
) -> ProbeTask:
    """An embedded task by name (:data:`EMBEDDED_TASKS`), else the CSV file at that path (:func:`read_task_csv`)."""
    if str(name_or_csv) in EMBEDDED_TASKS:
        return embedded_task(str(name_or_csv), n_points, seed)
    path = Path(name_or_csv)
    if path.suffix.lower() not in (".csv", ".tsv", ".txt") and not path.is_file():
        raise ValueError(f"unknown probe task {str(name_or_csv)!r}: give one of {', '.join(EMBEDDED_TASKS)} or a CSV file")
    return read_task_csv(path, kind=kind, target_column=target_column)


def points_digest(lonlat: np.ndarray) -> str:
    """A short digest of a point set (to key cached embeddings of it)."""
    return hashlib.sha256(np.ascontiguousarray(lonlat, dtype=np.float64).tobytes()).hexdigest()[:16]


def run_probes(
    embeddings: Sequence[str | EmbeddingSpec],
    tasks: Sequence[ProbeTask],
    *,
    n_folds: int = DEFAULT_FOLDS,
    block_resolution: int | None = None,
    seed: int = 0,
    knn: bool = True,
    progress: Progress | None = None,
    embed_fn: EmbedFunction = embed,
    score_fn: ScoreFunction = cross_validate,
) -> ProbeReport:
    """Cross-validated linear probes of each embedding (and, with ``knn``, the k-NN reference) on each task.

    Every embedding of a task is scored on the same folds, blocked by H3 cells at ``block_resolution``
    (None: chosen per task from its point density). Raises :class:`~core.probes.embeddings.EmbeddingError`
    for an embedding that cannot be built, ValueError for a task too small or concentrated to fold.
    """
    specs = [as_spec(embedding) for embedding in embeddings]
    if not specs and not knn:
        raise ValueError("nothing to probe: give at least one embedding (or keep the k-NN reference)")
    if not tasks:
        raise ValueError("no probe task given")
    report = ProbeReport({task.name: task for task in tasks}, {}, n_folds)
    steps, done = len(tasks) * (len(specs) + int(knn)), 0
    features_of: dict[tuple[str, str], np.ndarray] = {}
    for task in tasks:
        groups, report.block_resolution[task.name] = block_groups(task.lonlat, block_resolution, n_folds)
        folds = blocked_folds(groups, n_folds, seed)
        digest = points_digest(task.lonlat)
        for spec in specs:
            if progress:
                progress(done / steps, f"{task.name}: {spec.label}")
            key = (spec.key, digest)
            if key not in features_of:
                features_of[key] = embed_fn(spec, task.lonlat)
            report.results.append(score_fn(features_of[key], task, groups, folds, "linear", spec.label))
            done += 1
        if knn:
            if progress:
                progress(done / steps, f"{task.name}: k-NN reference")
            report.results.append(score_fn(np.zeros((len(task), 0)), task, groups, folds, "knn"))
            done += 1
    if progress:
        progress(1.0, "done")
    return report

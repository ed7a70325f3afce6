"""Spatially blocked cross-validation of a linear probe (and a k-NN reference) on a location embedding.

Blocks are H3 cells: every point of a cell falls in the same fold, so a probe is always scored on regions
it never saw (a random split lets neighbouring points leak the answer). The block resolution defaults to
the coarsest one with at least :data:`BLOCKS_PER_FOLD` occupied cells per fold (resolution 0, cells of
~4 million km², for a few thousand points worldwide; finer for a regional set).

Models (features standardised inside the pipeline, fitted on each training fold only):

- regression: ``RidgeCV`` over :data:`RIDGE_ALPHAS`, alpha chosen by :data:`INNER_FOLDS`-fold CV blocked the same
  way on the training fold (leave-one-out picked alphas so small that neighbouring points leaked and the
  fit blew up on held-out regions: R² of −2.9 ± 5.6 for Space2Vec theory on settlement density). The scaler
  is fitted on the whole training fold before that inner CV (only feature means and scales are shared);
- classification: multinomial L2 ``LogisticRegressionCV`` (lbfgs to tol 1e-3), its inverse penalty C chosen from
  :data:`LOGISTIC_CS` by the same blocked inner CV. A fixed C = 1 over-fitted wide embeddings: on climate
  the default pretrained embedding (356-d) scored 0.702 at C = 1 and 0.777 with C chosen, bare rbf (200-d)
  0.762 and 0.764;
- ``knn``: distance-weighted k-nearest neighbours (:data:`KNN_NEIGHBOURS`) on 3-D unit vectors
  (chord distance orders pairs as great-circle distance does): the spatial-interpolation reference.

Scores per fold: R² and RMSE for regression, accuracy and macro-F1 for classification. Fits run on one BLAS
thread: on a busy 2-core machine a 2-thread lbfgs fit of 2 400 × 192 features took 25 s, one thread 0.8 s.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.metrics import accuracy_score, f1_score, r2_score, root_mean_squared_error
from sklearn.model_selection import GroupKFold
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from core.coords import unit_vectors
from core.hexgrid import cells_of
from core.probes.tasks import ProbeTask

DEFAULT_FOLDS = 5
BLOCKS_PER_FOLD = 10
MAX_BLOCK_RESOLUTION = 6
RIDGE_ALPHAS = np.logspace(-3, 4, 15)
LOGISTIC_CS = np.logspace(-3, 0, 7)  # half-decade steps; larger C never won a probe and converges slowest
INNER_FOLDS = 3  # inner blocked folds that choose ridge's alpha and logistic regression's C
KNN_NEIGHBOURS = 10
METHODS = ("linear", "knn")
METRICS = {"regression": ("r2", "rmse"), "classification": ("accuracy", "macro_f1")}
PRIMARY_METRIC = {"regression": "r2", "classification": "accuracy"}


def choose_block_resolution(lonlat: np.ndarray, n_folds: int = DEFAULT_FOLDS) -> int:
    """The coarsest H3 resolution (0..MAX_BLOCK_RESOLUTION) giving ``BLOCKS_PER_FOLD × n_folds`` occupied cells,
    else the coarsest giving at least ``n_folds``; ValueError when even the finest has fewer than ``n_folds``."""
    occupied = {}
    for resolution in range(MAX_BLOCK_RESOLUTION + 1):
        occupied[resolution] = len(np.unique(cells_of(lonlat, resolution)))
        if occupied[resolution] >= BLOCKS_PER_FOLD * n_folds:
            return resolution
    for resolution, count in occupied.items():
        if count >= n_folds:
            return resolution
    raise ValueError(
        f"the points fall in only {occupied[MAX_BLOCK_RESOLUTION]} H3 cells at resolution {MAX_BLOCK_RESOLUTION}: "
        f"too concentrated for {n_folds} spatially blocked folds"
    )


def block_groups(lonlat: np.ndarray, resolution: int | None = None, n_folds: int = DEFAULT_FOLDS) -> tuple[np.ndarray, int]:
    """(H3 cell id of each point, the resolution used); ``resolution=None`` picks it with :func:`choose_block_resolution`."""
    if resolution is None:
        resolution = choose_block_resolution(lonlat, n_folds)
    return cells_of(lonlat, resolution), int(resolution)


def blocked_folds(groups: np.ndarray, n_folds: int = DEFAULT_FOLDS, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) of ``n_folds`` folds in which no group (block) is split across folds."""
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer of at least 2, got {n_folds!r}")
    blocks = len(np.unique(groups))
    if blocks < n_folds:
        raise ValueError(f"{blocks} spatial block(s) cannot make {n_folds} folds; use fewer folds or a finer block resolution")
    splitter = GroupKFold(n_splits=int(n_folds), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(groups)), groups=groups))


def make_probe(kind: str, method: str, inner_splits: list[tuple[np.ndarray, np.ndarray]] | None = None) -> Pipeline:
    """A fresh unfitted model: ``method`` "linear" (standardise → ridge / logistic) or "knn" (on unit vectors).

    The linear models pick their penalty on ``inner_splits`` (folds of the training rows) when given, else by
    leave-one-out (ridge) or 3-fold unblocked CV (logistic).
    """
    if method == "knn":
        model = KNeighborsRegressor if kind == "regression" else KNeighborsClassifier
        return make_pipeline(model(n_neighbors=KNN_NEIGHBOURS, weights="distance"))
    if method != "linear":
        raise ValueError(f"unknown probe method {method!r}; choose from {METHODS}")
    if kind == "regression":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS, cv=inner_splits))
    return make_pipeline(StandardScaler(), LogisticRegressionCV(
        Cs=LOGISTIC_CS, cv=inner_splits or INNER_FOLDS, scoring="accuracy", l1_ratios=(0.0,), tol=1e-3, max_iter=500,
        use_legacy_attributes=False,
    ))


def inner_folds(train_groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Up to :data:`INNER_FOLDS` folds of a training fold's rows, blocked by their groups, that choose a linear
    probe's penalty; None when the rows hold fewer than 2 blocks."""
    inner = min(INNER_FOLDS, len(np.unique(train_groups)))
    return list(GroupKFold(n_splits=inner).split(train_groups, groups=train_groups)) if inner >= 2 else None


@dataclass
class ProbeResult:
    """Cross-validated scores of one embedding (or the k-NN reference) on one task."""

    task: str
    embedding: str
    method: str
    kind: str
    dim: int
    scores: dict[str, np.ndarray]
    oof: np.ndarray
    seconds: float

    @property
    def primary(self) -> str:
        """The headline metric: R² for regression, accuracy for classification."""
        return PRIMARY_METRIC[self.kind]

    def mean(self, metric: str | None = None) -> float:
        return float(np.mean(self.scores[metric or self.primary]))

    def std(self, metric: str | None = None) -> float:
        return float(np.std(self.scores[metric or self.primary]))

    def residuals(self, task: ProbeTask) -> np.ndarray:
        """Out-of-fold error per point: prediction − target (regression), 1 where wrong else 0 (classification)."""
        if self.kind == "regression":
            return self.oof - task.target
        return (self.oof != task.target).astype(np.float64)


def _fold_scores(kind: str, truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    if kind == "regression":
        return {"r2": r2_score(truth, predicted), "rmse": root_mean_squared_error(truth, predicted)}
    return {"accuracy": accuracy_score(truth, predicted), "macro_f1": f1_score(truth, predicted, average="macro", zero_division=0)}


def _predictions(
    method: str, features: np.ndarray, task: ProbeTask, groups: np.ndarray, train: np.ndarray, test: np.ndarray
) -> np.ndarray:
    """Fit on ``train``, predict ``test``; a training fold with a single class predicts that class."""
    if task.kind == "classification" and len(np.unique(task.target[train])) < 2:
        return np.full(len(test), task.target[train][0])
    model = make_probe(task.kind, method, inner_folds(groups[train]) if method == "linear" else None)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features[train], task.target[train])
        return model.predict(features[test])


def cross_validate(
    features: np.ndarray,
    task: ProbeTask,
    groups: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    method: str = "linear",
    embedding: str = "",
) -> ProbeResult:
    """Scores of ``method`` on ``features`` (``[N, D]``, rows aligned with the task's points) over ``folds``
    (made from the spatial blocks ``groups``, which also fold the training rows to choose the linear probe's penalty).

    For ``method="knn"`` the features are ignored: the reference interpolates on the points' unit vectors.
    """
    if len(features) != len(task):
        raise ValueError(f"{len(features)} feature rows for {len(task)} points of task {task.name}")
    started = time.perf_counter()
    inputs = unit_vectors(task.lonlat) if method == "knn" else np.asarray(features, dtype=np.float64)
    oof = np.zeros(len(task), dtype=task.target.dtype)
    per_fold: list[dict[str, float]] = []
    for train, test in folds:
        oof[test] = _predictions(method, inputs, task, np.asarray(groups), train, test)
        per_fold.append(_fold_scores(task.kind, task.target[test], oof[test]))
    scores = {metric: np.array([fold[metric] for fold in per_fold]) for metric in METRICS[task.kind]}
    label = embedding or ("knn (xyz)" if method == "knn" else "features")
    return ProbeResult(task.name, label, method, task.kind, inputs.shape[1], scores, oof, time.perf_counter() - started)


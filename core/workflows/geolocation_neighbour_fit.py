"""Fitting the kNN density's hyper-parameters (:mod:`core.workflows.geolocation_neighbours`) on a held-out split.

Two steps, on the same images and the same H3 grid as the temperature calibration:

1. With CSP's logits at its calibrated τ, every (k, κ, similarity temperature) of a small grid and, for each, the
   exponent β and floor μ that maximise the mean log-likelihood of the true cell (Nelder–Mead). Cheap: the kNN
   factor is 1 · (μ/4π)^β away from the neighbours, so the normaliser is CSP's (computed once) plus a sum over the
   cells near them.
2. The temperature τ of CSP's factor for coverage: the τ at which the 90 % credible region of the product holds
   the true cell for 90 % of the images (bisection on log τ; coverage grows with τ). A likelihood fit leaves the
   tails too heavy (the 90 % region over-covers); this step sharpens or widens the product to say what it means.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.spatial import cKDTree
from scipy.special import logsumexp

from core.workflows.geolocation_neighbours import NeighbourSettings, candidate_pairs, kernel_values

K_GRID = (16, 64)
KAPPA_GRID = (1000.0, 3000.0, 10000.0)
SIMILARITY_TAU_GRID = (0.02, 0.1)
COVERAGE_MASS = 0.9
MAX_EVALUATIONS = 80
"""Nelder–Mead evaluations of (β, μ) at most per grid point."""
_CHUNK = 256


@dataclass(frozen=True)
class NeighbourFit:
    """Fitted :class:`NeighbourSettings` and CSP temperature ``tau``, with the mean log-likelihood of the true cell
    (before: CSP alone at its calibrated τ) and the share of fitting images whose true cell is in the 90 % region."""

    settings: NeighbourSettings
    tau: float
    log_likelihood: float
    log_likelihood_before: float
    coverage: float


@dataclass(frozen=True)
class FitData:
    """The fitting images on one grid: CSP's cosine similarities ``[n, M]``, the true cell of each, the cells' unit
    vectors ``[M, 3]`` (with a KD-tree) and areas, the neighbours' similarities ``[n, K]`` (best first) and unit vectors
    ``[n, K, 3]``, and ``offsets(τ)`` added to CSP's logits (−log Z(x), see ImageMarginal)."""

    similarities: np.ndarray
    truth: np.ndarray
    vectors: np.ndarray
    tree: cKDTree
    areas: np.ndarray
    neighbour_similarities: np.ndarray
    neighbour_vectors: np.ndarray
    offsets: Callable[[float], np.ndarray]

    def logits(self, rows: slice, tau: float) -> np.ndarray:
        """CSP's logits of ``rows`` at ``tau`` (float64)."""
        return self.similarities[rows].astype(np.float64) / tau + self.offsets(tau)


@dataclass(frozen=True)
class Pairs:
    """Every (image, neighbour rank, cell, cosine) within the widest kernel's reach, for the first ``k`` neighbours."""

    rows: np.ndarray
    ranks: np.ndarray
    cells: np.ndarray
    cosine: np.ndarray

    @classmethod
    def find(cls, data: FitData, k: int, radius: float) -> Pairs:
        """The pairs of ``data``'s images' first ``k`` neighbours and the cells within ``radius`` (chord) of them."""
        found = [candidate_pairs(data.tree, data.vectors, neighbours, radius) for neighbours in data.neighbour_vectors[:, :k]]
        rows = np.repeat(np.arange(len(found)), [len(owner) for owner, _, _ in found])
        return cls(rows, *(np.concatenate(parts) for parts in zip(*found)))


def sparse_kde(data: FitData, pairs: Pairs, k: int, kappa: float, similarity_tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cells, kde) of every fitting image's kNN density where it is not cut off (flat arrays)."""
    radius = NeighbourSettings(k, kappa, similarity_tau, 1.0, 1.0).radius
    keep = (pairs.ranks < k) & (pairs.cosine >= 1.0 - radius**2 / 2.0)
    scaled = data.neighbour_similarities[:, :k] / similarity_tau
    log_weights = scaled - logsumexp(scaled, axis=1, keepdims=True)
    rows, cells = pairs.rows[keep], pairs.cells[keep]
    values = kernel_values(pairs.cosine[keep], log_weights[rows, pairs.ranks[keep]], kappa)
    n_cells = len(data.vectors)
    dense = np.bincount(rows * n_cells + cells, weights=values, minlength=len(data.truth) * n_cells)
    found = np.flatnonzero(dense)
    return found // n_cells, found % n_cells, dense[found]


def _log_normalisers(data: FitData, tau: float) -> np.ndarray:
    return np.concatenate([logsumexp(data.logits(slice(s, s + _CHUNK), tau), axis=1) for s in range(0, len(data.truth), _CHUNK)])


def fit_weight_and_floor(data: FitData, tau: float, kde: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[float, float, float]:
    """(β, μ, mean log-likelihood) maximising the log-likelihood of the true cells with CSP at ``tau`` and the kNN
    density ``kde`` of :func:`sparse_kde`."""
    n = len(data.truth)
    rows, cells, values = kde
    base = _log_normalisers(data, tau)
    offsets = data.offsets(tau)
    csp_share = np.exp(data.similarities[rows, cells].astype(np.float64) / tau + offsets[cells] - base[rows])
    true_logits = data.similarities[np.arange(n), data.truth].astype(np.float64) / tau + offsets[data.truth] - base
    at_truth = np.zeros(n)
    hit = cells == data.truth[rows]
    at_truth[rows[hit]] = values[hit]
    uniform = 1.0 / (4.0 * math.pi)

    def loss(params: np.ndarray) -> float:
        weight, floor = float(params[0]), 1.0 / (1.0 + math.exp(-params[1]))
        gain = lambda kde_values: weight * np.log1p((1.0 - floor) * kde_values / (floor * uniform))  # noqa: E731
        extra = np.bincount(rows, weights=csp_share * np.expm1(gain(values)), minlength=n)
        return -float(np.mean(true_logits + gain(at_truth) - np.log1p(extra)))

    best = minimize(loss, np.array([0.5, -1.0]), method="Nelder-Mead", bounds=[(0.0, 3.0), (-25.0, 9.0)],
                    options={"xatol": 1e-2, "fatol": 1e-4, "maxfev": MAX_EVALUATIONS})
    return float(best.x[0]), float(1.0 / (1.0 + math.exp(-best.x[1]))), float(-best.fun)


def log_factor_matrix(data: FitData, kde: tuple[np.ndarray, np.ndarray, np.ndarray], weight: float, floor: float) -> np.ndarray:
    """β log((1 − μ) kde + μ / 4π) of every fitting image at every cell ``[n, M]``."""
    rows, cells, values = kde
    dense = np.zeros(data.similarities.shape)
    dense[rows, cells] = values
    return weight * np.log((1.0 - floor) * dense + floor / (4.0 * math.pi))


def coverage(log_probs: np.ndarray, truth: np.ndarray, areas: np.ndarray, mass: float = COVERAGE_MASS) -> float:
    """Share of rows whose true cell is in the ``mass`` credible region (cells taken densest first, as
    :class:`core.workflows.geolocate.Geolocation` does): the mass of the cells denser than the truth's is < ``mass``."""
    rows = np.arange(len(truth))
    density = log_probs - np.log(areas)
    denser = density > density[rows, truth][:, None]
    before = np.where(denser, np.exp(log_probs), 0.0).sum(axis=1)
    return float(np.mean(before < mass * (1.0 - 1e-12)))


def _product_log_probs(data: FitData, factor: np.ndarray, tau: float) -> np.ndarray:
    logits = np.concatenate([data.logits(slice(s, s + _CHUNK), tau) for s in range(0, len(data.truth), _CHUNK)]) + factor
    return logits - logsumexp(logits, axis=1, keepdims=True)


def fit_coverage_tau(
    data: FitData, factor: np.ndarray, tau: float, bounds: tuple[float, float], mass: float = COVERAGE_MASS, steps: int = 12,
) -> float:
    """The τ (within a factor 4 of ``tau`` and within ``bounds``) at which the ``mass`` region of CSP × the kNN
    ``factor`` holds the truth for a ``mass`` share of the fitting images (bisection on log τ)."""
    low, high = math.log(max(tau / 4.0, bounds[0])), math.log(min(tau * 4.0, bounds[1]))
    for _ in range(steps):
        middle = 0.5 * (low + high)
        if coverage(_product_log_probs(data, factor, math.exp(middle)), data.truth, data.areas, mass) < mass:
            low = middle
        else:
            high = middle
    return math.exp(0.5 * (low + high))


def fit_neighbours(
    data: FitData, tau: float, k_grid: Sequence[int] = K_GRID, kappa_grid: Sequence[float] = KAPPA_GRID,
    similarity_tau_grid: Sequence[float] = SIMILARITY_TAU_GRID, mass: float = COVERAGE_MASS,
    tau_bounds: tuple[float, float] = (1e-3, 10.0),
) -> NeighbourFit:
    """The best kNN density for CSP at its calibrated ``tau`` on ``data``, then τ refitted for coverage within
    ``tau_bounds`` (see above)."""
    pairs = Pairs.find(data, max(k_grid), NeighbourSettings(max(k_grid), min(kappa_grid), 1.0, 1.0, 1.0).radius)
    fits = []
    for k in k_grid:
        for kappa in kappa_grid:
            for similarity_tau in similarity_tau_grid:
                kde = sparse_kde(data, pairs, k, kappa, similarity_tau)
                weight, floor, likelihood = fit_weight_and_floor(data, tau, kde)
                fits.append((likelihood, k, kappa, similarity_tau, weight, floor, kde))
    _, k, kappa, similarity_tau, weight, floor, kde = max(fits, key=lambda fit: fit[0])
    factor = log_factor_matrix(data, kde, weight, floor)
    fitted_tau = fit_coverage_tau(data, factor, tau, tau_bounds, mass)
    log_probs = _product_log_probs(data, factor, fitted_tau)
    rows = np.arange(len(data.truth))
    before = float(np.mean(data.logits(slice(None), tau)[rows, data.truth] - _log_normalisers(data, tau)))
    return NeighbourFit(
        NeighbourSettings(int(k), float(kappa), float(similarity_tau), weight, floor), fitted_tau,
        float(log_probs[rows, data.truth].mean()), before, coverage(log_probs, data.truth, data.areas, mass),
    )

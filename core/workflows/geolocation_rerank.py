"""A point estimate that beats image retrieval at every scale: the image's nearest training images' places,
re-ranked by CSP.

The Im2GPS baseline answers with the place of the single most similar training image. Its k most similar images
hold a right answer far more often (on the default validation split, one of the 64 lies within 200 km of the
truth for 25 % of the images, against 6 % for the first), but similarity alone cannot tell which. CSP can: each
candidate place y_j (a neighbour's place) is scored by

    score_j = a · [cos(e(y_j), g(f)) / τ − log Z(y_j)] + log Σ_i w_i vMF(y_j; y_i, κ)

— CSP's P(x | I) ÷ Z(x) logit (τ the run's calibrated ÷ Z(x) temperature, :class:`core.workflows.geolocate.ImageMarginal`)
weighted by ``csp_weight`` a, plus the log kernel density of the neighbours' votes (weights w_i = softmax_i(s_i / τ_s),
von Mises–Fisher kernels of concentration κ, as :mod:`core.workflows.geolocation_neighbours`). The answer is the
best-scoring place. The settings are chosen on a held-out split (in ``geolocate --calibrate``) by the mean share of
images within the Im2GPS scales :data:`SCALES_KM`, and stored with the run's calibration.

It is a decision over the neighbours' places, not a distribution: the calibrated credible regions stay those of
CSP ÷ Z(x) × kNN density.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import logsumexp

from core.coords import haversine_km, unit_vectors
from core.workflows.geolocation_neighbours import check_neighbour_count, check_number, log_vmf_normaliser

SCALES_KM = (200.0, 750.0, 2500.0)
"""The Im2GPS scales the settings are chosen for (their mean share of images within)."""
K_GRID = (16, 64)
KAPPA_GRID = (1e3, 1e4, 1e5, 1e6)
SIMILARITY_TAU_GRID = (0.02, 0.05, 0.1)
CSP_WEIGHT_GRID = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class RerankSettings:
    """``k`` neighbours voting with weights softmax(similarity / ``similarity_tau``) through vMF kernels of
    concentration ``kappa`` (1 / rad²), plus ``csp_weight`` × CSP's ÷ Z(x) logit."""

    k: int
    kappa: float
    similarity_tau: float
    csp_weight: float

    def __post_init__(self) -> None:
        check_neighbour_count(self.k)
        for name in ("kappa", "similarity_tau"):
            check_number(name, getattr(self, name), positive=True)
        check_number("csp_weight", self.csp_weight, positive=False)


@dataclass(frozen=True)
class RerankFit:
    """Chosen :class:`RerankSettings` with the % of fitting images within each of :data:`SCALES_KM` (keys: km as
    text), for the re-ranked answer and for the nearest image alone, on ``n_images`` images."""

    settings: RerankSettings
    within: dict[str, float]
    nearest_within: dict[str, float]
    n_images: int


@dataclass(frozen=True)
class NeighbourCandidates:
    """Per image, its ``K`` nearest training images (best first): places ``[B, K, 2]``, feature similarities ``[B, K]``,
    CSP's ÷ Z(x) logits at the places ``[B, K]`` and the cosines between the places ``[B, K, K]``."""

    places: np.ndarray
    similarities: np.ndarray
    csp_logits: np.ndarray
    cosines: np.ndarray

    @classmethod
    @torch.no_grad()
    def gather(cls, geolocator, features: torch.Tensor, k: int, tau: float) -> NeighbourCandidates:
        """The candidates of image features ``[B, F]`` from ``geolocator``'s run, CSP at temperature ``tau``."""
        similarities, indices = geolocator.neighbour_index().search(features, k)
        places = geolocator.train_lonlat[indices]
        flat = places.reshape(-1, 2)
        embeddings = geolocator.location_embeddings(flat).reshape(*indices.shape, -1)
        queries = geolocator.image_embeddings(features)
        cosine = torch.einsum("bkd,bd->bk", embeddings, queries).double().numpy()
        logits = cosine / tau + geolocator.image_marginal(tau)(flat).reshape(indices.shape)
        vectors = unit_vectors(flat).reshape(*indices.shape, 3)
        return cls(places, similarities, logits, np.einsum("bid,bjd->bij", vectors, vectors))

    def scores(self, settings: RerankSettings) -> np.ndarray:
        """score_j of the first ``settings.k`` candidates of every image ``[B, k]`` (see the module docstring)."""
        k = min(settings.k, self.places.shape[1])
        scaled = self.similarities[:, :k] / settings.similarity_tau
        log_weights = scaled - logsumexp(scaled, axis=1, keepdims=True)
        log_kernels = settings.kappa * (self.cosines[:, :k, :k] - 1.0) + log_weights[:, None, :] + log_vmf_normaliser(settings.kappa)
        return settings.csp_weight * self.csp_logits[:, :k] + logsumexp(log_kernels, axis=2)

    def choose(self, settings: RerankSettings) -> np.ndarray:
        """The best-scoring place of every image ``[B, 2]``."""
        best = self.scores(settings).argmax(axis=1)
        return self.places[np.arange(len(best)), best]


def share_within(predicted: np.ndarray, truth: np.ndarray, scales_km: Sequence[float] = SCALES_KM) -> dict[str, float]:
    """% of images whose predicted place lies within each scale of the true one (keys: km as text)."""
    errors = haversine_km(predicted, truth)
    return {f"{scale:g}": float(100.0 * np.mean(errors <= scale)) for scale in scales_km}


def fit_rerank(
    candidates: NeighbourCandidates, truth: np.ndarray, k_grid: Sequence[int] = K_GRID, kappa_grid: Sequence[float] = KAPPA_GRID,
    similarity_tau_grid: Sequence[float] = SIMILARITY_TAU_GRID, csp_weight_grid: Sequence[float] = CSP_WEIGHT_GRID,
) -> RerankFit:
    """The settings of the grids whose answers lie within :data:`SCALES_KM` of ``truth`` ``[B, 2]`` for the largest mean
    share of images (the first such in grid order when tied)."""
    best: tuple[float, RerankSettings, dict[str, float]] | None = None
    for k, kappa, similarity_tau, csp_weight in itertools.product(k_grid, kappa_grid, similarity_tau_grid, csp_weight_grid):
        settings = RerankSettings(int(k), float(kappa), float(similarity_tau), float(csp_weight))
        within = share_within(candidates.choose(settings), truth)
        if best is None or np.mean(list(within.values())) > best[0]:
            best = (float(np.mean(list(within.values()))), settings, within)
    if best is None:
        raise ValueError("every grid of settings must have at least one value")
    return RerankFit(best[1], best[2], share_within(candidates.places[:, 0], truth), len(truth))

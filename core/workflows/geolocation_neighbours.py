"""The image nearest neighbours' places as a second opinion on P(x | I): a kernel density on the sphere.

For a photo's features f, its k most similar training images (cosine of features standardised on the training
split, as the Im2GPS baseline of :mod:`core.workflows.geolocation_eval`) vote for their places y_j with weights
w_j = softmax_j(s_j / ``similarity_tau``), each through a von Mises–Fisher kernel of concentration κ:

    kde(x) = Σ_j w_j · κ / (2π (1 − e^(−2κ))) · exp(κ (x·y_j − 1))        (a density per steradian)

With a floor μ spread evenly over the sphere, and an exponent β, it multiplies CSP's P(x | I):

    P(x | I) ∝ P_CSP(x | I) · ((1 − μ) kde(x) + μ / 4π)^β

— a product of two experts, renormalised over the candidate cells, so credible regions stay proper. Kernels are
cut off where κ (1 − x·y) exceeds :data:`KERNEL_CUTOFF` (a factor e^−20 below the kernel's peak), so each
neighbour touches only the candidates near it (found with a KD-tree of their unit vectors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

from core.coords import unit_vectors

KERNEL_CUTOFF = 20.0
"""κ (1 − cos θ) beyond which a neighbour's kernel counts as 0."""
MAX_NEIGHBOURS = 256


def check_neighbour_count(k: object, high: int | None = None) -> None:
    """Refuse ``k`` by name unless it is an integer ≥ 1 (and ≤ ``high`` when given)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or (high is not None and k > high):
        raise ValueError(f"k must be {'a positive integer' if high is None else f'an integer in 1..{high}'}, got {k!r}")


def check_number(name: str, value: object, positive: bool) -> None:
    """Refuse ``value`` by ``name`` unless it is a finite number > 0 (``positive``) or ≥ 0."""
    if not (isinstance(value, (int, float)) and (0.0 < value if positive else 0.0 <= value) and value < math.inf):
        raise ValueError(f"{name} must be a {'positive' if positive else 'non-negative'} number, got {value!r}")


@dataclass(frozen=True)
class NeighbourSettings:
    """The kNN density's hyper-parameters: ``k`` neighbours weighted by softmax(similarity / ``similarity_tau``), vMF
    concentration ``kappa`` (1 / rad²), exponent ``weight`` (β) and uniform ``floor`` (μ)."""

    k: int
    kappa: float
    similarity_tau: float
    weight: float
    floor: float

    def __post_init__(self) -> None:
        check_neighbour_count(self.k, MAX_NEIGHBOURS)
        for name in ("kappa", "similarity_tau"):
            check_number(name, getattr(self, name), positive=True)
        check_number("weight", self.weight, positive=False)
        if not (isinstance(self.floor, (int, float)) and 0.0 < self.floor <= 1.0):
            raise ValueError(f"floor must be in (0, 1], got {self.floor!r}")

    @property
    def radius(self) -> float:
        """Chord length (unit sphere) beyond which a kernel is cut off."""
        return math.sqrt(2.0 * min(KERNEL_CUTOFF / self.kappa, 2.0))


def log_vmf_normaliser(kappa: float) -> float:
    """log of the von Mises–Fisher density's constant on the 2-sphere, κ / (2π (1 − e^(−2κ)))."""
    return math.log(kappa) - math.log(2.0 * math.pi) - math.log1p(-math.exp(-2.0 * kappa))


def candidate_pairs(tree: cKDTree, candidates: np.ndarray, neighbours: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(neighbour index, candidate index, cosine) of every candidate (unit vectors ``[M, 3]``, indexed by ``tree``)
    within ``radius`` (chord) of a neighbour (unit vectors ``[k, 3]``)."""
    hits = tree.query_ball_point(neighbours, radius)
    owner = np.repeat(np.arange(len(neighbours)), [len(h) for h in hits])
    index = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]) if len(hits) else np.zeros(0, dtype=np.int64)
    return owner, index, np.einsum("ij,ij->i", candidates[index], neighbours[owner])


def kernel_values(cosine: np.ndarray, log_weights: np.ndarray, kappa: float) -> np.ndarray:
    """w_j vMF(x; y_j, κ) of pairs with cosine x·y_j and neighbour log-weights log w_j."""
    return np.exp(kappa * (cosine - 1.0) + log_weights + log_vmf_normaliser(kappa))


@dataclass(frozen=True)
class NeighbourDensity:
    """One image's kNN density term: log((1 − μ) kde(x) + μ / 4π)^β of places, from its neighbours' unit vectors
    ``[k, 3]`` and log-weights ``[k]``."""

    neighbours: np.ndarray
    log_weights: np.ndarray
    settings: NeighbourSettings

    def log_factor(self, vectors: np.ndarray, tree: cKDTree | None = None) -> np.ndarray:
        """β log((1 − μ) kde + μ / 4π) at unit vectors ``[M, 3]`` (``tree``: a KD-tree of them, built when None)."""
        s = self.settings
        owner, index, cosine = candidate_pairs(tree or cKDTree(vectors), vectors, self.neighbours, s.radius)
        kde = np.bincount(index, weights=kernel_values(cosine, self.log_weights[owner], s.kappa), minlength=len(vectors))
        return s.weight * np.log((1.0 - s.floor) * kde + s.floor / (4.0 * math.pi))


@dataclass(frozen=True)
class NeighbourIndex:
    """Training images' standardised, normalised features ``[N, F]`` and their places' unit vectors ``[N, 3]``."""

    mean: torch.Tensor = field(repr=False)
    scale: torch.Tensor = field(repr=False)
    features: torch.Tensor = field(repr=False)
    vectors: np.ndarray = field(repr=False)

    @classmethod
    def build(cls, train_features: torch.Tensor, train_lonlat: np.ndarray) -> NeighbourIndex:
        """The index of the training images (features ``[N, F]``, (lon, lat) ``[N, 2]``)."""
        features = torch.as_tensor(train_features, dtype=torch.float32)
        if len(features) != len(train_lonlat) or not len(features):
            raise ValueError(f"need as many training places as images (got {len(train_lonlat)} and {len(features)}), at least one")
        mean, scale = features.mean(0), features.std(0).nan_to_num(1.0).clamp_min(1e-6)
        return cls(mean, scale, F.normalize((features - mean) / scale, dim=-1), unit_vectors(train_lonlat))

    @torch.no_grad()
    def search(self, features: torch.Tensor, k: int, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """(cosine similarities ``[B, k]``, best first; indices ``[B, k]``) of each query's ``k`` nearest training images."""
        k = min(k, len(self.features))
        parts = [
            (F.normalize((torch.as_tensor(features[start : start + batch_size], dtype=torch.float32) - self.mean) / self.scale, dim=-1)
             @ self.features.T).topk(k, dim=1)
            for start in range(0, len(features), batch_size)
        ]
        return torch.cat([p.values for p in parts]).double().numpy(), torch.cat([p.indices for p in parts]).numpy()

    def densities(self, features: torch.Tensor, settings: NeighbourSettings) -> list[NeighbourDensity]:
        """One :class:`NeighbourDensity` per row of image features ``[B, F]``."""
        similarities, indices = self.search(features, settings.k)
        log_weights = torch.log_softmax(torch.from_numpy(similarities / settings.similarity_tau), dim=1).numpy()
        return [NeighbourDensity(self.vectors[row], weights, settings) for row, weights in zip(indices, log_weights)]

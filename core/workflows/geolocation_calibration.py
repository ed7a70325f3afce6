"""Calibrated "where was this taken": the temperature τ of P(x | I) fitted for geolocation.

The τ a run was trained with is fitted for its contrastive loss, not for spreading probability over the globe:
with it, the 90 % credible region of the default run held the true place for 97.5 % of test images — far
larger than it needed to be. :func:`calibrate` fits τ on a split the run did not train on (``val``) by the
mean log-likelihood of each image's true H3 cell over the whole grid at one resolution, once for P(x | I) and
once for its ÷ Z(x) variant (:class:`core.workflows.geolocate.ImageMarginal`, whose Z(x) depends on τ too).
Both temperatures are stored in the run folder (:data:`CALIBRATION_FILE`); :class:`~core.workflows.geolocate.Geolocator`
uses them by default from then on, in the CLI and the app.

The fit is one-dimensional (over log τ, bounded): the similarities of the fitting images to every cell are
computed once, and each trial τ costs one log-sum-exp over them.

The same calibration then fits the kNN density that multiplies the ÷ Z(x) variant
(:mod:`core.workflows.geolocation_neighbours`, fitted by :mod:`core.workflows.geolocation_neighbour_fit`) on the
first :data:`NEIGHBOUR_FIT_IMAGES` of those images, and stores it beside the temperatures (``neighbours``), and
chooses how CSP re-ranks each image's nearest training images' places for a point estimate
(:mod:`core.workflows.geolocation_rerank`) on all of them (``rerank``). Files written before either have none, and
load without it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

from core.files import atomic_write_json
from core.hexgrid import cells_of
from core.workflows.geolocation_neighbour_fit import K_GRID, FitData, NeighbourFit, fit_neighbours
from core.workflows.geolocation_neighbours import NeighbourSettings
from core.workflows.geolocation_rerank import K_GRID as RERANK_K_GRID
from core.workflows.geolocation_rerank import NeighbourCandidates, RerankFit, RerankSettings, fit_rerank

CALIBRATION_FILE = "geolocation-calibration.json"
#: Images of the fitting split used at most (a seeded subset): 2 000 × 41 162 cells is 330 MB of float32 similarities.
FIT_IMAGES = 2000
#: Resolution of the grid the fit scores (every cell at once): 3, the geolocation default.
FIT_RESOLUTION = 3
TAU_BOUNDS = (1e-3, 10.0)
#: Images of the fitting subset used for the kNN density (its dense [n, cells] float64 arrays are 330 MB per 1 000).
NEIGHBOUR_FIT_IMAGES = 600
_CHUNK = 256


@dataclass(frozen=True)
class TemperatureFit:
    """A fitted τ with the mean log-likelihood of the true cell at it, and at the run's training τ."""

    tau: float
    log_likelihood: float
    log_likelihood_before: float


@dataclass(frozen=True)
class Calibration:
    """The fitted temperatures of a run: ``plain`` for P(x | I), ``normalised`` for P(x | I) ÷ Z(x), and
    ``neighbours``, the kNN density fitted to multiply the ÷ Z(x) variant, and ``rerank``, the re-ranking of the
    image's neighbours chosen for a point estimate (each None in files written before it)."""

    plain: TemperatureFit
    normalised: TemperatureFit
    trained_tau: float
    split: str
    n_images: int
    resolution: int
    neighbours: NeighbourFit | None = None
    rerank: RerankFit | None = None

    def tau(self, normalise: bool, neighbours: bool = False) -> float:
        """The calibrated τ of the variant (``neighbours``: the one fitted with the kNN density, when there is one)."""
        if neighbours and self.neighbours is not None:
            return self.neighbours.tau
        return (self.normalised if normalise else self.plain).tau

    def summary(self) -> str:
        """One line per variant, for the terminal."""
        lines = [
            f"{name}: τ {fit.tau:.4g} (trained {self.trained_tau:.4g}); mean log P(true cell) {fit.log_likelihood_before:.3f} → "
            f"{fit.log_likelihood:.3f} on {self.n_images:,} {self.split} images at H3 resolution {self.resolution}"
            for name, fit in (("P(x | I)", self.plain), ("P(x | I) ÷ Z(x)", self.normalised))
        ]
        if self.neighbours is not None:
            fit, s = self.neighbours, self.neighbours.settings
            lines.append(
                f"P(x | I) ÷ Z(x) × kNN density: k {s.k}, κ {s.kappa:g}, similarity τ {s.similarity_tau:g}, β {s.weight:.3f}, "
                f"floor {s.floor:.3g}, τ {fit.tau:.4g}; mean log P(true cell) {fit.log_likelihood_before:.3f} → "
                f"{fit.log_likelihood:.3f}, 90 % region holds the truth for {100 * fit.coverage:.1f} % of the fitting images"
            )
        if self.rerank is not None:
            s, fit = self.rerank.settings, self.rerank
            within = " / ".join(f"{fit.within[key]:.1f}" for key in fit.within)
            nearest = " / ".join(f"{fit.nearest_within[key]:.1f}" for key in fit.nearest_within)
            lines.append(
                f"image neighbours re-ranked by CSP ÷ Z(x): k {s.k}, κ {s.kappa:g}, similarity τ {s.similarity_tau:g}, "
                f"CSP weight {s.csp_weight:g}; within {' / '.join(fit.within)} km: {within} % of the {fit.n_images:,} "
                f"fitting images (the nearest image alone: {nearest} %)"
            )
        return "\n".join(lines)


class CalibrationError(ValueError):
    """A calibration file that cannot be used, or a split too small to fit on."""


def mean_log_likelihood(similarities: np.ndarray, truth: np.ndarray, tau: float, offsets: np.ndarray | None = None) -> float:
    """Mean over rows of log softmax(similarities / τ + offsets)[row, truth[row]] (float64, in chunks)."""
    total = 0.0
    for start in range(0, len(similarities), _CHUNK):
        logits = similarities[start : start + _CHUNK].astype(np.float64) / tau
        if offsets is not None:
            logits += offsets
        rows = np.arange(len(logits))
        total += float((logits[rows, truth[start : start + _CHUNK]] - logsumexp(logits, axis=1)).sum())
    return total / len(similarities)


def fit_temperature(
    similarities: np.ndarray, truth: np.ndarray, offsets: Callable[[float], np.ndarray] | None = None,
    bounds: tuple[float, float] = TAU_BOUNDS,
) -> tuple[float, float]:
    """The τ in ``bounds`` that maximises :func:`mean_log_likelihood` (with ``offsets(τ)`` added to the logits when
    given), and that maximum."""
    def loss(log_tau: float) -> float:
        tau = math.exp(log_tau)
        return -mean_log_likelihood(similarities, truth, tau, None if offsets is None else offsets(tau))

    result = minimize_scalar(loss, bounds=(math.log(bounds[0]), math.log(bounds[1])), method="bounded", options={"xatol": 1e-3})
    return float(math.exp(result.x)), float(-result.fun)


def marginal_offsets(cell_image_similarities: np.ndarray) -> Callable[[float], np.ndarray]:
    """−log Z_τ(x) for each cell from its similarities ``[M, K]`` to K sampled training images (as ImageMarginal)."""
    log_k = math.log(cell_image_similarities.shape[1])

    def offsets(tau: float) -> np.ndarray:
        return -np.concatenate([
            logsumexp(cell_image_similarities[start : start + 4096].astype(np.float64) / tau, axis=1) - log_k
            for start in range(0, len(cell_image_similarities), 4096)
        ])

    return offsets


@torch.no_grad()
def calibrate(geolocator, split: str = "val", n_images: int = FIT_IMAGES, resolution: int = FIT_RESOLUTION, seed: int = 0) -> Calibration:
    """Fit both temperatures of ``geolocator``'s run on ``split`` (a seeded subset of at most ``n_images``)."""
    data = geolocator.data
    indices = data.indices(split).numpy()
    if len(indices) < 10:
        raise CalibrationError(f"the run's dataset has {len(indices)} located {split} images; calibration needs at least 10")
    if len(indices) > n_images:
        indices = np.sort(np.random.default_rng(seed).choice(indices, size=n_images, replace=False))
    grid = geolocator.grid(resolution)
    position = {str(cell): i for i, cell in enumerate(grid.cells)}
    truth = np.array([position[str(cell)] for cell in cells_of(data.lonlat[indices].numpy().astype(np.float64), resolution)])
    similarities = (geolocator.image_embeddings(data.features[indices]) @ grid.embeddings.T).numpy()
    marginal_images = geolocator.image_marginal(geolocator.tau).image_embeddings
    offsets = marginal_offsets((grid.embeddings @ marginal_images.T).numpy())

    trained = geolocator.tau
    fits = []
    for offset in (None, offsets):
        tau, best = fit_temperature(similarities, truth, offset)
        before = mean_log_likelihood(similarities, truth, trained, None if offset is None else offset(trained))
        fits.append(TemperatureFit(tau, best, before))
    subset = slice(0, NEIGHBOUR_FIT_IMAGES)
    index = geolocator.neighbour_index()
    neighbour_similarities, neighbour_indices = index.search(data.features[indices[subset]], max(K_GRID))
    fit_data = FitData(
        similarities[subset], truth[subset], grid.vectors, grid.tree, grid.areas, neighbour_similarities,
        index.vectors[neighbour_indices], offsets,
    )
    neighbours = fit_neighbours(fit_data, fits[1].tau, tau_bounds=TAU_BOUNDS)
    candidates = NeighbourCandidates.gather(geolocator, data.features[indices], max(RERANK_K_GRID), fits[1].tau)
    rerank = fit_rerank(candidates, data.lonlat[indices].numpy().astype(np.float64))
    return Calibration(fits[0], fits[1], trained, split, len(indices), resolution, neighbours, rerank)


def save_calibration(run_dir: Path, calibration: Calibration) -> Path:
    """Write ``calibration`` into the run folder (atomically); returns the file."""
    path = Path(run_dir) / CALIBRATION_FILE
    atomic_write_json(path, asdict(calibration))
    return path


def load_calibration(run_dir: Path) -> Calibration | None:
    """The run's calibration, or None when it has none; :class:`CalibrationError` names a damaged file."""
    path = Path(run_dir) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
        fits = {name: TemperatureFit(**values.pop(name)) for name in ("plain", "normalised")}
        neighbours = values.pop("neighbours", None)
        if neighbours is not None:
            neighbours = NeighbourFit(**{**neighbours, "settings": NeighbourSettings(**neighbours["settings"])})
        rerank = values.pop("rerank", None)
        if rerank is not None:
            rerank = RerankFit(**{**rerank, "settings": RerankSettings(**rerank["settings"])})
        calibration = Calibration(**fits, **values, neighbours=neighbours, rerank=rerank)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise CalibrationError(f"{path}: not a geolocation calibration ({error}); delete it or run `geolocate --calibrate` again") from None
    low, high = TAU_BOUNDS
    taus = [fit.tau for fit in fits.values()] + ([] if neighbours is None else [neighbours.tau])
    if not all(isinstance(tau, float) and low <= tau <= high for tau in taus):
        raise CalibrationError(f"{path}: a temperature outside [{low:g}, {high:g}]; run `geolocate --calibrate` again")
    return calibration

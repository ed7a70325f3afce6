"""Where was this photo taken? Scoring places for image features with a CSP run's dual encoder.

A CSP pre-training run maps locations, e(x), and image features, g(f), into one space. For a photo's
features f, every candidate place x gets the logit cos(e(x), g(f)) / τ, and a softmax over the candidates
gives P(x | I). τ divides, as everywhere in GeoCSP; it defaults to the run's calibrated temperature when
it has one (see below), else to the one it was trained with (``pretrain.tau_in_batch``; a CLIP-objective
run's learned τ).

Candidates (``where=``):
- :class:`GridSpec`: the centres of the global H3 grid at a chosen resolution. Up to resolution
  :data:`MAX_FULL_RESOLUTION` (41 162 cells) every cell is scored at once. Finer grids are reached
  coarse to fine: score the grid at ``coarse_resolution``, then, level by level, replace the best cells
  (at most ``refine_cells``, together holding ``refine_mass`` of the finest level's mass) by their
  children, which share their parent's probability in proportion to exp(logit). Probability mass of
  every region is kept, so the result is a distribution over cells of mixed resolution: fine where the
  photo probably was, coarse elsewhere.
- :class:`GallerySpec`: the run's training locations as a GPS gallery (GeoCLIP's set-up). Their
  probabilities are summed into H3 cells of ``resolution`` for maps and credible regions.

Optional terms, added to the logits in log space (each names a ``key`` under which its values on a
cached candidate set are cached too):
- :class:`DensityPrior`, P(x): how many training places lie in x's H3 cell at resolution
  :data:`PRIOR_RESOLUTION` (Laplace-smoothed). Grid candidates only: a gallery already follows the
  training density.
- :class:`ClassCondition`, P(y | x) of a fine-tuned location classifier for a class y the user picks:
  P(x | I, y) ∝ P(I, y | x) P(x) ≈ P(I | x) P(y | x) P(x) ∝ P(x | I) · P(y | x), assuming the photo and
  its class independent given the place (the same assumption as the CSP fusion P(y | I, x)).
- :class:`ImageMarginal` (``locate(..., normalise=True)``), −log Z(x) with Z(x) the mean of
  exp(cos(e(x), g(f(I'))) / τ) over a seeded sample of training images I'. CSP's in-batch loss is a
  softmax over *images* for each location, so exp(logit) / Z(x) estimates P(I | x) / P(I), and Bayes' rule
  gives P(x | I) ∝ P(I | x) P(x): the logits minus log Z(x). Without it, a few places whose embedding
  matches most photos ("hubs") take the top rank for most photos (measured on the default dataset: 12
  distinct top-1 cells for 600 test photos, 98 with the correction).

A per-image factor (``locate(..., neighbours=...)``, grid candidates only): the kernel density of the places of
the photo's nearest training images in image-feature space (:mod:`core.workflows.geolocation_neighbours`),
raised to a power and floored, multiplies P(x | I) on every cell and on every refined child.

Calibration (:mod:`core.workflows.geolocation_calibration`, ``geolocate --calibrate``) fits τ of each
variant (with and without ÷ Z(x)) on the validation split, then the kNN density's settings with the τ of the
product, and stores them in the run folder.

Places are ranked by probability density (probability / cell area), so fine cells at the peak come
before coarse cells around it; a credible region is the smallest-area set of cells, taken in that
order, whose probabilities sum to the requested mass. The location side — the grid's cells, centres,
areas and location embeddings, and the gallery's — is computed once per :class:`Geolocator` and
candidate set: after that, one photo against the 41 162 cells of resolution 3 is one matrix product
(see ``benchmarks/geolocation.py``).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol, TypeVar

import h3
import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from core.coords import lonlat_of_vectors, unit_vectors
from core.hexgrid import cell_area_km2, cell_centers, cells_of, world_cells
from core.image.preprocess import Images
from core.image.registry import ImageEncoder, get_image_encoder
from core.location.encoder import LocationEncoder
from core.location.params import ConfigError
from core.train.checkpoint import MODEL_FILE, CheckpointError, load_model_weights, read_tensors
from core.train.config import RunConfig
from core.train.data import FeatureData, load_feature_data
from core.train.records import BEST
from core.train.tasks import CSPModel
from core.workflows.geolocation_calibration import Calibration, CalibrationError, load_calibration
from core.workflows.geolocation_neighbours import NeighbourDensity, NeighbourIndex, NeighbourSettings
from core.workflows.geolocation_rerank import NeighbourCandidates, RerankSettings

GEOLOCATION_STAGE = "pretrain"
MAX_FULL_RESOLUTION = 3
"""Finest H3 resolution scored whole (41 162 cells); finer grids are refined from a coarser one."""
MAX_RESOLUTION = 7
"""Finest grid resolution offered (cells of about 5 km², edges of about 1.2 km)."""
TAU_RANGE = (1e-4, 100.0)
"""Accepted temperatures (the range of the run config's temperatures)."""
REFINE_CELLS = 64
"""At most this many cells are split into their children at each refinement level."""
REFINE_MASS = 0.99
"""Refinement splits the best cells until they hold this share of the finest level's probability."""
PRIOR_RESOLUTION = 2
"""H3 resolution at which :class:`DensityPrior` counts training places (cells of about 86 000 km²)."""
MARGINAL_IMAGES = 2048
"""Training images sampled to estimate :class:`ImageMarginal`'s Z(x)."""
_OTHER_RUNS = {
    "finetune": "a fine-tuned location classifier",
    "image_classifier": "an image classifier",
    "moco": "a MoCo image backbone",
}
_TERM_CACHE_SIZE = 32
T = TypeVar("T")


class GeolocationError(ValueError):
    """A run, setting or input that cannot be used to geolocate; the message says why, for the user."""


def check_tau(tau: float) -> float:
    """``tau`` as a float when it is a usable temperature, else a :class:`GeolocationError`."""
    low, high = TAU_RANGE
    if isinstance(tau, bool) or not isinstance(tau, (int, float, np.floating)) or not low <= float(tau) <= high:
        raise GeolocationError(f"the temperature τ must be a number in [{low:g}, {high:g}], got {tau!r}")
    return float(tau)


def check_resolution(resolution: int, name: str = "grid resolution", high: int = MAX_RESOLUTION) -> int:
    """``resolution`` when it is an integer in 0..``high``, else a :class:`GeolocationError`."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not 0 <= resolution <= high:
        raise GeolocationError(f"the {name} must be an integer H3 resolution in 0..{high}, got {resolution!r}")
    return int(resolution)


@dataclass(frozen=True)
class GridSpec:
    """Candidates: centres of the global H3 grid at ``resolution``, refined from ``coarse_resolution``.

    ``coarse_resolution`` None scores the whole grid when ``resolution`` ≤ :data:`MAX_FULL_RESOLUTION`
    and starts from that resolution otherwise.
    """

    resolution: int = MAX_FULL_RESOLUTION
    coarse_resolution: int | None = None
    refine_cells: int = REFINE_CELLS
    refine_mass: float = REFINE_MASS

    def __post_init__(self) -> None:
        check_resolution(self.resolution)
        if self.coarse_resolution is not None:
            check_resolution(self.coarse_resolution, "coarse resolution", MAX_FULL_RESOLUTION)
            if self.coarse_resolution > self.resolution:
                raise GeolocationError(
                    f"the coarse resolution ({self.coarse_resolution}) must not be finer than "
                    f"the grid resolution ({self.resolution})"
                )
        if isinstance(self.refine_cells, bool) or not isinstance(self.refine_cells, int) or self.refine_cells < 1:
            raise GeolocationError(f"refine_cells must be a positive integer, got {self.refine_cells!r}")
        if not 0.0 < self.refine_mass <= 1.0:
            raise GeolocationError(f"refine_mass must be in (0, 1], got {self.refine_mass!r}")

    @property
    def start(self) -> int:
        """The resolution scored whole."""
        return min(self.resolution, MAX_FULL_RESOLUTION) if self.coarse_resolution is None else self.coarse_resolution


@dataclass(frozen=True)
class GallerySpec:
    """Candidates: the run's training locations; probabilities are summed into H3 cells of ``resolution``."""

    resolution: int = MAX_FULL_RESOLUTION

    def __post_init__(self) -> None:
        check_resolution(self.resolution, "gallery's cell resolution")


class LocationTerm(Protocol):
    """A log-weight over places added to the logits; ``key`` identifies its values for caching."""

    key: Hashable

    def __call__(self, lonlat: np.ndarray) -> np.ndarray:
        """Log-weights ``[M]`` of (lon, lat) rows ``[M, 2]``."""
        ...


@dataclass(frozen=True)
class DensityPrior:
    """log P(x) from the training places: the Laplace-smoothed share of them in x's cell at ``resolution``."""

    counts: dict[str, int] = field(repr=False)
    total: int
    resolution: int = PRIOR_RESOLUTION
    smoothing: float = 1.0
    key: Hashable = ("density prior",)

    @classmethod
    def from_lonlat(
        cls, lonlat: ArrayLike, resolution: int = PRIOR_RESOLUTION, smoothing: float = 1.0, name: str = ""
    ) -> DensityPrior:
        """The prior of the places ``lonlat`` (``name`` tells priors from different places apart in caches)."""
        cells, counts = np.unique(cells_of(lonlat, resolution), return_counts=True)
        key = ("density prior", name, resolution, smoothing)
        return cls(dict(zip(cells.tolist(), counts.tolist())), int(counts.sum()), resolution, smoothing, key)

    def __call__(self, lonlat: np.ndarray) -> np.ndarray:
        cells = cells_of(lonlat, self.resolution)
        counts = np.array([self.counts.get(cell, 0) for cell in cells.tolist()], dtype=np.float64)
        denominator = self.total + self.smoothing * h3.get_num_cells(self.resolution)
        return np.log((counts + self.smoothing) / denominator)


class LocationClassifier(Protocol):
    """What :class:`ClassCondition` needs of a :class:`core.workflows.predict.Predictor`."""

    location_run: Path
    class_names: tuple[str, ...]

    def location_logits(self, lonlat: ArrayLike) -> torch.Tensor: ...


@dataclass(frozen=True)
class ClassCondition:
    """log P(y | x) of a fine-tuned location classifier for class ``class_index``: P(x | I) becomes P(x | I, y)."""

    classifier: LocationClassifier
    class_index: int

    def __post_init__(self) -> None:
        n = len(self.classifier.class_names)
        index = self.class_index
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise GeolocationError(f"class index must be in 0..{n - 1}, got {self.class_index!r}")

    @property
    def key(self) -> Hashable:
        return ("class", str(self.classifier.location_run), int(self.class_index))

    @property
    def class_name(self) -> str:
        return self.classifier.class_names[self.class_index]

    @torch.no_grad()
    def __call__(self, lonlat: np.ndarray, batch_size: int = 16_384) -> np.ndarray:
        parts = [
            torch.log_softmax(self.classifier.location_logits(lonlat[start : start + batch_size]), dim=-1)[:, self.class_index]
            for start in range(0, len(lonlat), batch_size)
        ]
        return torch.cat(parts).double().numpy()


@dataclass(frozen=True)
class ImageMarginal:
    """−log Z(x), Z(x) = mean over sampled training images of exp(cos(e(x), g(f)) / ``tau``) (see the module docstring)."""

    embed_locations: Callable[[np.ndarray], torch.Tensor] = field(repr=False)
    image_embeddings: torch.Tensor = field(repr=False)  # normalised g(f) of the sampled training images [K, D]
    tau: float
    key: Hashable

    @torch.no_grad()
    def __call__(self, lonlat: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        parts = [
            torch.logsumexp(self.embed_locations(lonlat[start : start + batch_size]) @ self.image_embeddings.T / self.tau, dim=1)
            for start in range(0, len(lonlat), batch_size)
        ]
        return -(torch.cat(parts).double().numpy() - math.log(len(self.image_embeddings)))


@dataclass(frozen=True)
class Place:
    """One candidate place of a :class:`Geolocation`: position, probability and H3 cell."""

    lon: float
    lat: float
    probability: float
    cell: str


def _cells_holding(lonlat: tuple[float, float]) -> np.ndarray:
    """The H3 cells of every resolution up to :data:`MAX_RESOLUTION` that hold the point."""
    return np.array([str(cells_of([lonlat], resolution)[0]) for resolution in range(MAX_RESOLUTION + 1)])


@dataclass(frozen=True)
class Geolocation:
    """P(x | I) of one photo over candidate places (rows of ``lonlat``, ``probs`` summing to 1).

    ``cells`` is each place's H3 cell (a grid place is its cell; a gallery place lies in its cell of
    ``resolution``) and ``areas`` the grid cells' areas in km² (NaN for gallery points); ``kind`` is
    "grid" or "gallery".
    """

    kind: str
    lonlat: np.ndarray
    probs: np.ndarray
    cells: np.ndarray
    areas: np.ndarray
    resolution: int
    vectors: np.ndarray | None = field(default=None, repr=False)  # unit vectors of ``lonlat`` when known (cached grids)

    def top(self, k: int = 5) -> list[Place]:
        """The ``k`` most likely places, best first: by density (grid cells) or by probability (gallery points)."""
        k = max(0, min(int(k), len(self.probs)))
        if k == 0:
            return []
        score = self.probs / self.areas if self.kind == "grid" else self.probs
        best = np.argpartition(-score, k - 1)[:k]
        best = best[np.argsort(-score[best], kind="stable")]
        return [Place(float(self.lonlat[i, 0]), float(self.lonlat[i, 1]), float(self.probs[i]), str(self.cells[i])) for i in best]

    @cached_property
    def _by_density(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cells, probability, area km², densest-first order, cumulative probability in that order), the places'
        probabilities summed per cell."""
        if self.kind == "grid":
            cells, probs, areas = self.cells, self.probs, self.areas
        else:
            cells, inverse = np.unique(self.cells, return_inverse=True)
            probs = np.bincount(inverse, weights=self.probs, minlength=len(cells))
            areas = cell_area_km2(cells)
        order = np.argsort(-(probs / areas))  # introsort: deterministic, twice as fast as a stable sort here
        return cells, probs, areas, order, np.cumsum(probs[order])

    @property
    def cell_distribution(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cells, probability, area km²) with the places' probabilities summed per cell, densest cell first."""
        cells, probs, areas, order, _ = self._by_density
        return cells[order], probs[order], areas[order]

    def _region(self, mass: float) -> np.ndarray:
        """Indices (into the per-cell arrays) of :meth:`credible_region`'s cells."""
        if not 0.0 < mass <= 1.0:
            raise GeolocationError(f"the credible mass must be in (0, 1], got {mass!r}")
        _, _, _, order, cumulative = self._by_density
        return order[: int(np.searchsorted(cumulative, mass * (1.0 - 1e-12))) + 1]

    def credible_region(self, mass: float = 0.9) -> np.ndarray:
        """The smallest-area set of cells (densest first) whose probabilities sum to at least ``mass``."""
        return self._by_density[0][self._region(mass)]

    def region_contains(self, lonlat: tuple[float, float], mass: float = 0.9) -> bool:
        """Whether the (lon, lat) point lies in a cell of :meth:`credible_region` (of any resolution)."""
        return bool(np.isin(self.credible_region(mass), _cells_holding(lonlat)).any())

    def probability_at(self, lonlat: tuple[float, float]) -> float:
        """The probability of the cell (of any resolution) that holds the (lon, lat) point; 0 when none does."""
        cells, probs = self._by_density[:2]
        return float(probs[np.isin(cells, _cells_holding(lonlat))].sum())

    def credible_area_km2(self, mass: float = 0.9) -> float:
        """Area of :meth:`credible_region` in km²."""
        return float(self._by_density[2][self._region(mass)].sum())

    def weighted_mean(self) -> tuple[float, float]:
        """(lon, lat) of the probability-weighted spherical mean of the places."""
        vector = self.probs @ (unit_vectors(self.lonlat) if self.vectors is None else self.vectors)
        if np.linalg.norm(vector) < 1e-12:  # mass spread evenly around the globe: no mean direction
            best = self.top(1)[0]
            return best.lon, best.lat
        lon, lat = lonlat_of_vectors(vector)
        return float(lon), float(lat)


@dataclass(frozen=True)
class _Candidates:
    """A cached candidate set: places, their unit vectors, cells and areas, normalised location embeddings ``[M, D]``."""

    lonlat: np.ndarray
    cells: np.ndarray
    areas: np.ndarray
    embeddings: torch.Tensor

    @cached_property
    def vectors(self) -> np.ndarray:
        return _frozen(unit_vectors(self.lonlat))

    @cached_property
    def tree(self) -> cKDTree:
        """A KD-tree of :attr:`vectors` (for the kNN density's kernels)."""
        return cKDTree(self.vectors)


def _read_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise GeolocationError(f"{run_dir.name} is not a GeoCSP run (it has no config.yaml)")
    try:
        return RunConfig.from_yaml(path.read_text())
    except (OSError, ValueError) as error:
        raise GeolocationError(f"run {run_dir.name} cannot be read: {error}") from error


def load_csp_model(run_dir: Path) -> tuple[RunConfig, CSPModel]:
    """(config, CSP model in eval mode with its best weights) of a pre-training run; only its weights are read.

    Any other kind of run, or a damaged one, raises a :class:`GeolocationError` saying why.
    """
    run_dir = Path(run_dir)
    config = _read_run_config(run_dir)
    if config.stage != GEOLOCATION_STAGE:
        kind = _OTHER_RUNS.get(config.stage, f"a {config.stage!r} run")
        raise GeolocationError(
            f"run {run_dir.name} is {kind} (stage {config.stage}): it has no image projection g(f), so it cannot "
            "geolocate a photo. Pick a CSP pre-training run (stage pretrain): it trains the location encoder e(x) "
            "and the image projection g(f) into one space."
        )
    checkpoint = run_dir / "checkpoints" / BEST
    try:
        weights = read_tensors(checkpoint / MODEL_FILE)
        key = "projection.weight" if config.pretrain.projection == "linear" else "projection.0.weight"
        if key not in weights:
            raise CheckpointError(f"{checkpoint / MODEL_FILE}: no {key}")
        model = CSPModel(
            LocationEncoder(config.location_config()), int(weights[key].shape[1]), config.pretrain.projection,
            clip=config.pretrain.objective == "clip",
        )
        load_model_weights(checkpoint, model)
    except (CheckpointError, ConfigError, RuntimeError) as error:
        raise GeolocationError(f"run {run_dir.name} cannot be loaded: {error}") from error
    return config, model.eval()


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only: cached arrays are shared by every result and session."""
    array.flags.writeable = False
    return array


def _softmax64(logits: torch.Tensor) -> np.ndarray:
    """Row-wise softmax as float64 (computed in float32, renormalised in float64 for exact cumulative sums)."""
    probs = torch.softmax(logits, dim=-1).numpy().astype(np.float64)
    return probs / probs.sum(axis=1, keepdims=True)


class Geolocator:
    """A CSP pre-training run, ready to score places for image features (see the module docstring).

    ``data`` (the run's :class:`FeatureData`) is only needed for the gallery and the density prior; it is
    loaded as the run's config names it when first needed. Thread-safe: one instance may serve many
    app sessions. Raises :class:`GeolocationError`.
    """

    def __init__(self, run_dir: Path, data: FeatureData | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.config, self.model = load_csp_model(self.run_dir)
        self.feature_dim = next(m for m in self.model.projection.modules() if isinstance(m, torch.nn.Linear)).in_features
        self._data = data
        self._lock = threading.RLock()
        self._memo: dict[tuple, object] = {}
        self._terms: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._encoder: ImageEncoder | None = None
        self._prior: DensityPrior | None = None
        self._neighbour_index: NeighbourIndex | None = None
        try:
            self.calibration: Calibration | None = load_calibration(self.run_dir)
        except CalibrationError as error:
            raise GeolocationError(str(error)) from None

    @property
    def tau(self) -> float:
        """The temperature the run was trained with: CLIP's learned τ, else ``pretrain.tau_in_batch``."""
        if self.model.log_inverse_tau is not None:
            return float(torch.exp(-self.model.log_inverse_tau.detach().clamp(max=math.log(100.0))))
        return float(self.config.pretrain.tau_in_batch)

    def default_tau(self, normalise: bool = False, neighbours: bool = False) -> float:
        """The τ used when none is given: the run's calibrated τ for this variant (÷ Z(x) or not; with the kNN
        density: the one fitted with it) when it has one (:mod:`core.workflows.geolocation_calibration`), else :attr:`tau`."""
        return self.tau if self.calibration is None else self.calibration.tau(normalise, neighbours)

    @property
    def neighbour_settings(self) -> NeighbourSettings | None:
        """The kNN density's settings fitted with the run's calibration (None when it has none)."""
        fit = None if self.calibration is None else self.calibration.neighbours
        return None if fit is None else fit.settings

    @property
    def rerank_settings(self) -> RerankSettings | None:
        """The re-ranking of the image's neighbours chosen with the run's calibration (None when it has none)."""
        fit = None if self.calibration is None else self.calibration.rerank
        return None if fit is None else fit.settings

    @property
    def image_encoder_name(self) -> str:
        return self.config.data.image_encoder

    # -- the image side ---------------------------------------------------------------------------------
    def encode_images(self, images: Images) -> torch.Tensor:
        """Image features ``[N, F]`` of RGB images through the run's image encoder (loaded once)."""
        with self._lock:
            if self._encoder is None:
                try:
                    self._encoder = get_image_encoder(self.image_encoder_name).load()
                except (KeyError, RuntimeError, OSError) as error:
                    name = self.image_encoder_name
                    raise GeolocationError(f"the run's image encoder {name!r} cannot be loaded: {error}") from error
            encoder = self._encoder
        return encoder.encode(images)

    @torch.no_grad()
    def image_embeddings(self, features: torch.Tensor) -> torch.Tensor:
        """L2-normalised g(f) ``[B, D]`` of image features ``[B, F]``."""
        features = torch.as_tensor(features, dtype=torch.float32)
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise GeolocationError(
                f"image features must have shape [N, {self.feature_dim}] ({self.image_encoder_name} features), "
                f"got {tuple(features.shape)}"
            )
        if not torch.isfinite(features).all():
            raise GeolocationError("image features contain NaN or infinite values")
        return F.normalize(self.model.projection(features), dim=-1)

    # -- the location side ------------------------------------------------------------------------------
    @torch.no_grad()
    def location_embeddings(self, lonlat: np.ndarray, batch_size: int = 16_384) -> torch.Tensor:
        """L2-normalised e(x) ``[M, D]`` of (lon, lat) rows."""
        points = torch.as_tensor(np.asarray(lonlat, dtype=np.float32))
        parts = [self.model.location(points[start : start + batch_size]) for start in range(0, len(points), batch_size)]
        return F.normalize(torch.cat(parts), dim=-1)

    @property
    def data(self) -> FeatureData:
        """The run's data (training locations for the gallery and the prior), loaded on first use."""
        with self._lock:
            if self._data is None:
                self._data = load_feature_data(self.config.data)
            return self._data

    @property
    def train_lonlat(self) -> np.ndarray:
        """The run's training locations, float64 ``[N, 2]``."""
        data = self.data
        return data.lonlat[data.indices("train")].numpy().astype(np.float64)

    def density_prior(self) -> DensityPrior:
        """:class:`DensityPrior` of the run's training locations (built once)."""
        with self._lock:
            if self._prior is None:
                self._prior = DensityPrior.from_lonlat(self.train_lonlat, name=str(self.run_dir))
            return self._prior

    def neighbour_index(self) -> NeighbourIndex:
        """:class:`NeighbourIndex` of the run's training images (built once)."""
        with self._lock:
            if self._neighbour_index is None:
                train = self.data.indices("train")
                self._neighbour_index = NeighbourIndex.build(self.data.features[train], self.train_lonlat)
            return self._neighbour_index

    def image_marginal(self, tau: float, n_images: int = MARGINAL_IMAGES, seed: int = 0) -> ImageMarginal:
        """:class:`ImageMarginal` at temperature ``tau`` over a seeded sample of ``n_images`` training images."""

        def sample() -> torch.Tensor:
            train = self.data.indices("train")
            chosen = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n_images]]
            return self.image_embeddings(self.data.features[chosen])

        images = self._cached(("marginal images", n_images, seed), sample)
        return ImageMarginal(self.location_embeddings, images, tau, ("image marginal", str(self.run_dir), tau, n_images, seed))

    def _cached(self, key: tuple, build: Callable[[], T]) -> T:
        """``build()``, computed once per ``key`` (the lock is held: concurrent callers wait rather than repeat it)."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = build()
            return self._memo[key]

    def grid(self, resolution: int) -> _Candidates:
        """Every cell of the world at ``resolution`` (≤ MAX_FULL_RESOLUTION) with its embedding; cached."""
        check_resolution(resolution, high=MAX_FULL_RESOLUTION)

        def build() -> _Candidates:
            cells = np.array(world_cells(resolution))
            lonlat = cell_centers(cells)
            return _Candidates(_frozen(lonlat), _frozen(cells), _frozen(cell_area_km2(cells)), self.location_embeddings(lonlat))

        return self._cached(("grid", resolution), build)

    def gallery(self, resolution: int) -> _Candidates:
        """The training locations with their cells at ``resolution`` (areas NaN: points have none) and embeddings; cached."""

        def build() -> _Candidates:
            lonlat = self._cached(("gallery lonlat",), lambda: _frozen(self.train_lonlat))
            embeddings = self._cached(("gallery embeddings",), lambda: self.location_embeddings(lonlat))
            return _Candidates(lonlat, _frozen(cells_of(lonlat, resolution)), _frozen(np.full(len(lonlat), np.nan)), embeddings)

        return self._cached(("gallery", resolution), build)

    def _term_values(self, term: LocationTerm, candidates_key: tuple, lonlat: np.ndarray) -> np.ndarray:
        key = (term.key, candidates_key)
        with self._lock:
            if key in self._terms:
                self._terms.move_to_end(key)
                return self._terms[key]
        values = np.asarray(term(lonlat), dtype=np.float64)
        with self._lock:
            self._terms[key] = values
            while len(self._terms) > _TERM_CACHE_SIZE:
                self._terms.popitem(last=False)
        return values

    # -- scoring ----------------------------------------------------------------------------------------
    def locate(
        self,
        features: torch.Tensor,
        where: GridSpec | GallerySpec = GridSpec(),
        tau: float | None = None,
        terms: Sequence[LocationTerm] = (),
        normalise: bool = False,
        neighbours: NeighbourSettings | None = None,
    ) -> list[Geolocation]:
        """P(x | I) (times the ``terms``; ``normalise``: divided by the image marginal Z(x), see
        :class:`ImageMarginal`; ``neighbours``: times the kNN density of the image's nearest training images, see
        :mod:`core.workflows.geolocation_neighbours`) of each row of image features ``[B, F]``, one
        :class:`Geolocation` each."""
        tau = check_tau(self.default_tau(normalise, neighbours is not None) if tau is None else tau)
        if normalise:
            terms = [*terms, self.image_marginal(tau)]
        if isinstance(where, GallerySpec) and (neighbours is not None or any(isinstance(term, DensityPrior) for term in terms)):
            raise GeolocationError(
                "the density prior and the nearest neighbours' density apply to grid candidates: a gallery of training "
                "places already follows their density"
            )
        queries = self.image_embeddings(features)
        densities = None if neighbours is None else self.neighbour_index().densities(features, neighbours)
        if isinstance(where, GallerySpec):
            candidates, key, kind = self.gallery(where.resolution), ("gallery",), "gallery"
        else:
            candidates, key, kind = self.grid(where.start), ("grid", where.start), "grid"
        logits = (queries @ candidates.embeddings.T) / tau
        if terms:
            logits += torch.from_numpy(sum(self._term_values(term, key, candidates.lonlat) for term in terms)).float()
        if densities is not None:
            logits += torch.from_numpy(np.stack([d.log_factor(candidates.vectors, candidates.tree) for d in densities])).float()
        probs = _softmax64(logits)
        results = [
            Geolocation(kind, candidates.lonlat, row, candidates.cells, candidates.areas, where.resolution, candidates.vectors)
            for row in probs
        ]
        if kind == "grid" and where.resolution > where.start:
            per_image = [None] * len(results) if densities is None else densities
            results = [
                self._refine(result, query, where, tau, terms, density) for result, query, density in zip(results, queries, per_image)
            ]
        return results

    def best_guesses(self, features: torch.Tensor, settings: RerankSettings | None = None, tau: float | None = None) -> np.ndarray:
        """One (lon, lat) per row of image features ``[B, F]``: the place of one of the image's nearest training images,
        re-ranked by CSP ÷ Z(x) (:mod:`core.workflows.geolocation_rerank`; ``settings``: the run's, ``tau``: its ÷ Z(x)
        one, by default). :class:`GeolocationError` when the run has no fitted re-ranking and none is given."""
        settings = settings or self.rerank_settings
        if settings is None:
            raise GeolocationError("this run has no fitted re-ranking of the image's neighbours: run `geolocate --calibrate`")
        tau = check_tau(self.default_tau(True) if tau is None else tau)
        return NeighbourCandidates.gather(self, features, settings.k, tau).choose(settings)

    def locate_images(
        self,
        images: Images,
        where: GridSpec | GallerySpec = GridSpec(),
        tau: float | None = None,
        terms: Sequence[LocationTerm] = (),
        normalise: bool = False,
        neighbours: NeighbourSettings | None = None,
    ) -> list[Geolocation]:
        """:meth:`locate` of RGB images, encoded by the run's image encoder."""
        return self.locate(self.encode_images(images), where, tau, terms, normalise, neighbours)

    @torch.no_grad()
    def _refine(
        self, result: Geolocation, query: torch.Tensor, spec: GridSpec, tau: float, terms: Sequence[LocationTerm],
        density: NeighbourDensity | None = None,
    ) -> Geolocation:
        """Split the best cells of the finest level into their children, level by level, down to ``spec.resolution``."""
        lonlat, probs, cells, areas = result.lonlat, result.probs, result.cells, result.areas
        finest = np.ones(len(cells), dtype=bool)
        for resolution in range(spec.start + 1, spec.resolution + 1):
            level = np.flatnonzero(finest)
            order = level[np.argsort(-probs[level], kind="stable")]
            enough = int(np.searchsorted(np.cumsum(probs[order]), spec.refine_mass * probs[level].sum() * (1.0 - 1e-12))) + 1
            parents = order[: min(enough, spec.refine_cells, len(order))]
            children = [h3.cell_to_children(str(cells[p]), resolution) for p in parents.tolist()]
            owner = np.repeat(np.arange(len(parents)), [len(c) for c in children])
            child_cells = np.array([cell for group in children for cell in group])
            child_lonlat = cell_centers(child_cells)
            logits = (self.location_embeddings(child_lonlat) @ query).double().numpy() / tau
            for term in terms:
                logits = logits + np.asarray(term(child_lonlat), dtype=np.float64)
            if density is not None:
                logits = logits + density.log_factor(unit_vectors(child_lonlat))
            peak = np.full(len(parents), -np.inf)
            np.maximum.at(peak, owner, logits)
            weights = np.exp(logits - peak[owner])
            child_probs = probs[parents][owner] * weights / np.bincount(owner, weights=weights)[owner]
            keep = np.ones(len(cells), dtype=bool)
            keep[parents] = False
            lonlat = np.concatenate([lonlat[keep], child_lonlat])
            probs = np.concatenate([probs[keep], child_probs])
            cells = np.concatenate([cells[keep], child_cells])
            areas = np.concatenate([areas[keep], cell_area_km2(child_cells)])
            finest = np.concatenate([np.zeros(int(keep.sum()), dtype=bool), np.ones(len(child_cells), dtype=bool)])
        return Geolocation("grid", lonlat, probs, cells, areas, spec.resolution)


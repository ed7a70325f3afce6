"""How far off is the geolocation? Great-circle errors on held-out images, against baselines in the same run.

For each image of a split of the run's dataset, the great-circle (haversine) distance from its true
location to:
- ``CSP grid · top-1`` / ``CSP grid · weighted mean``: the most likely place of P(x | I) over the H3 grid,
  and the probability-weighted spherical mean of the grid's places; ``CSP grid ÷ Z(x)``: the same with
  each place's logit corrected by the image marginal (:class:`core.workflows.geolocate.ImageMarginal`);
  ``CSP grid ÷ Z(x) × kNN density``: that, times the kernel density of the image's nearest training images' places
  (:mod:`core.workflows.geolocation_neighbours`), when the run's calibration has fitted one;
- ``CSP gallery · top-1`` / ``· weighted mean``: the same with the training locations as candidates;
- ``image neighbours re-ranked by CSP ÷ Z(x)``: the place of one of the image's nearest training images, the one CSP
  ranks first (:mod:`core.workflows.geolocation_rerank`), when the run's calibration has chosen a re-ranking: a
  point estimate, without credible regions;
and, as baselines:
- ``random point on the sphere`` (uniform on its area) and ``random training location`` (seeded);
- ``density mode``: the centre of the H3 cell (resolution :data:`core.workflows.geolocate.PRIOR_RESOLUTION`) holding
  the most training places, for every image;
- ``image nearest neighbour``: the location of the training image with the most similar features (cosine
  of features standardised on the training split: :meth:`core.workflows.geolocation_neighbours.NeighbourIndex.search`,
  the index the kNN density uses) — the Im2GPS baseline (Hays & Efros, CVPR 2008).
Reported per method: % of images within 1 / 25 / 200 / 750 / 2 500 km (the Im2GPS scales GeoCLIP reports),
median and mean error; for the CSP rows also their calibration: how often the true place lies in the 50 % and
90 % credible regions (a calibrated P(x | I) puts it there for about 50 % and 90 % of the images), the median
area of the 90 % region and the mean log probability of the cell holding the true place. The CSP rows use the
run's calibrated temperatures when it has them (:mod:`core.workflows.geolocation_calibration`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from core.coords import haversine_km, sample_sphere
from core.files import atomic_write_bytes
from core.workflows.geolocate import PRIOR_RESOLUTION, GallerySpec, Geolocator, GridSpec, LocationTerm, check_tau
from core.workflows.geolocation_neighbours import NeighbourSettings
from core.workflows.geolocation_rerank import RerankSettings
from core.hexgrid import aggregate_counts, cell_centers

THRESHOLDS_KM = (1.0, 25.0, 200.0, 750.0, 2500.0)
RERANK_ROW = "image neighbours re-ranked by CSP ÷ Z(x)"
REGION_MASSES = (0.5, 0.9)
AREA_MASS = 0.9
SPLITS = ("train", "val", "test")
Progress = Callable[[float, str], None]


def coverage_column(mass: float) -> str:
    """The table column of how often the true place is in the ``mass`` credible region."""
    return f"in {100 * mass:g} % region (%)"


AREA_COLUMN = f"{100 * AREA_MASS:g} % region median km²"
LOG_LIKELIHOOD_COLUMN = "mean log P(true cell)"
REGION_COLUMNS = (*map(coverage_column, REGION_MASSES), AREA_COLUMN, LOG_LIKELIHOOD_COLUMN)
"""The calibration columns of a probabilistic method, in table order."""


@dataclass(frozen=True)
class RegionStats:
    """Per image of a probabilistic method: whether the true place lies in each credible region (``inside`` by
    mass), the area of the :data:`AREA_MASS` region in km² and the log probability of the cell holding the truth."""

    inside: dict[float, np.ndarray]
    area_km2: np.ndarray
    log_likelihood: np.ndarray

    def columns(self) -> dict[str, float]:
        """Coverage of each region (%), the median area and the mean log-likelihood."""
        coverage = {coverage_column(mass): float(100.0 * np.mean(inside)) for mass, inside in self.inside.items()}
        return {**coverage, AREA_COLUMN: float(np.median(self.area_km2)), LOG_LIKELIHOOD_COLUMN: float(np.mean(self.log_likelihood))}


def error_summary(
    errors_km: np.ndarray, thresholds_km: tuple[float, ...] = THRESHOLDS_KM, regions: RegionStats | None = None
) -> dict[str, float]:
    """% of errors within each threshold (inclusive), the median and the mean error in km, and with ``regions`` the
    calibration columns (:meth:`RegionStats.columns`; NaN without: a point estimate has no regions)."""
    errors = np.asarray(errors_km, dtype=np.float64)
    if errors.ndim != 1 or not len(errors) or not np.isfinite(errors).all():
        raise ValueError(f"errors must be a non-empty 1-D array of finite distances, got shape {errors.shape}")
    summary = {f"≤ {threshold:g} km (%)": float(100.0 * (errors <= threshold).mean()) for threshold in thresholds_km}
    summary.update({"median km": float(np.median(errors)), "mean km": float(errors.mean())})
    return {**summary, **(regions.columns() if regions is not None else dict.fromkeys(REGION_COLUMNS, float("nan")))}


@dataclass(frozen=True)
class GeolocationReport:
    """Errors of every method on ``n_images`` images of ``split``; ``rows`` maps method → :func:`error_summary`."""

    run: str
    split: str
    n_images: int
    settings: dict[str, str]
    rows: dict[str, dict[str, float]] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per method, one column per measure."""
        return pd.DataFrame.from_dict(self.rows, orient="index").rename_axis("method")

    def to_markdown(self) -> str:
        """A title line, the settings and the table, as Markdown."""
        table = self.table()
        settings = ", ".join(f"{key} {value}" for key, value in self.settings.items())
        lines = [
            f"Geolocation of {self.n_images:,} {self.split} images, run {self.run} ({settings}).",
            "",
            "| method | " + " | ".join(table.columns) + " |",
            "| --- | " + " | ".join("---:" for _ in table.columns) + " |",
        ]
        for method, row in table.iterrows():
            lines.append(f"| {method} | " + " | ".join("–" if np.isnan(value) else f"{value:,.1f}" for value in row) + " |")
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> tuple[Path, Path]:
        """``geolocation-<split>.md`` and ``.csv`` in ``directory``; returns their paths."""
        stem = Path(directory) / f"geolocation-{self.split}"
        markdown, csv = stem.with_suffix(".md"), stem.with_suffix(".csv")
        atomic_write_bytes(markdown, self.to_markdown().encode())
        atomic_write_bytes(csv, self.table().to_csv(float_format="%.4f").encode())
        return markdown, csv


def density_mode(train_lonlat: np.ndarray, resolution: int = PRIOR_RESOLUTION) -> np.ndarray:
    """Centre (lon, lat) ``[2]`` of the H3 cell holding the most training places (first such cell when tied)."""
    cells, counts = aggregate_counts(train_lonlat, resolution)
    return cell_centers(cells[int(np.argmax(counts))])[0]


def _csp_errors(
    geolocator: Geolocator, features: torch.Tensor, truth: np.ndarray, where: GridSpec | GallerySpec,
    tau: float | None, terms: list[LocationTerm], normalise: bool, neighbours: NeighbourSettings | None, batch_size: int,
    report: Callable[[int], None],
) -> tuple[np.ndarray, np.ndarray, RegionStats]:
    """Errors in km of the top-1 place and of the weighted mean for each image, and its :class:`RegionStats`."""
    n = len(features)
    top1, mean, area, log_likelihood = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    inside = {mass: np.empty(n, dtype=bool) for mass in REGION_MASSES}
    for start in range(0, n, batch_size):
        results = geolocator.locate(features[start : start + batch_size], where, tau, terms, normalise, neighbours)
        stop = start + len(results)
        best = np.array([[place.lon, place.lat] for place in (result.top(1)[0] for result in results)])
        centres = np.array([result.weighted_mean() for result in results])
        top1[start:stop] = haversine_km(best, truth[start:stop])
        mean[start:stop] = haversine_km(centres, truth[start:stop])
        for mass in REGION_MASSES:
            inside[mass][start:stop] = [result.region_contains(tuple(p), mass) for result, p in zip(results, truth[start:stop])]
        area[start:stop] = [result.credible_area_km2(AREA_MASS) for result in results]
        probability = np.array([result.probability_at(tuple(p)) for result, p in zip(results, truth[start:stop])])
        log_likelihood[start:stop] = np.log(np.maximum(probability, np.finfo(np.float64).tiny))
        report(stop)
    return top1, mean, RegionStats(inside, area, log_likelihood)


def _tau_text(geolocator: Geolocator, tau: float | None) -> str:
    """The temperatures the CSP rows used, for the report's settings line."""
    if tau is not None:
        return f"{tau:g}"
    if geolocator.calibration is None:
        return f"{geolocator.tau:g} (trained; not calibrated)"
    calibration = geolocator.calibration
    knn = "" if calibration.neighbours is None else f", × kNN density {calibration.tau(True, True):.4g}"
    return (f"calibrated on {calibration.n_images:,} {calibration.split} images: {calibration.tau(False):.4g}, "
            f"÷ Z(x) {calibration.tau(True):.4g}{knn} (trained {calibration.trained_tau:g})")


def _neighbours_text(settings: NeighbourSettings) -> str:
    """The kNN density's fitted settings, for the report's settings line."""
    return (f"k {settings.k}, κ {settings.kappa:g}, similarity τ {settings.similarity_tau:g}, β {settings.weight:.3g}, "
            f"floor {settings.floor:.3g}")


def _rerank_text(settings: RerankSettings) -> str:
    """The re-ranking's chosen settings, for the report's settings line."""
    return f"k {settings.k}, κ {settings.kappa:g}, similarity τ {settings.similarity_tau:g}, CSP weight {settings.csp_weight:g}"


def evaluate_geolocation(
    geolocator: Geolocator,
    split: str = "test",
    grid: GridSpec = GridSpec(),
    tau: float | None = None,
    prior: bool = False,
    gallery: bool = True,
    limit: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> GeolocationReport:
    """Errors of CSP geolocation and of the baselines on the images of ``split`` (see the module docstring).

    ``limit`` evaluates a seeded random subset of that many images; ``prior`` multiplies the grid's
    P(x | I) by the training-density prior.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if tau is not None:
        check_tau(tau)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of images, got {limit}")
    report = progress or (lambda fraction, message: None)
    data = geolocator.data
    indices = data.indices(split).numpy()
    if not len(indices):
        raise ValueError(f"the run's dataset has no located {split} images")
    rng = np.random.default_rng(seed)
    if limit is not None and limit < len(indices):
        indices = np.sort(rng.choice(indices, size=limit, replace=False))
    train = data.indices("train").numpy()
    train_lonlat = data.lonlat[train].numpy().astype(np.float64)
    truth = data.lonlat[indices].numpy().astype(np.float64)
    features = data.features[indices]
    n = len(indices)

    rows: dict[str, dict[str, float]] = {}
    terms = [geolocator.density_prior()] if prior else []
    neighbours = geolocator.neighbour_settings
    candidates: list[tuple[str, GridSpec | GallerySpec, list[LocationTerm], bool, NeighbourSettings | None]] = [
        ("CSP grid", grid, terms, False, None), ("CSP grid ÷ Z(x)", grid, terms, True, None),
    ]
    if neighbours is not None:
        candidates.append(("CSP grid ÷ Z(x) × kNN density", grid, terms, True, neighbours))
    if gallery:
        candidates.append(("CSP gallery", GallerySpec(grid.resolution), [], False, None))
    passes = len(candidates)
    for position, (name, where, extra, normalise, knn) in enumerate(candidates):
        def done_images(done: int, position: int = position, name: str = name) -> None:
            report((position + done / n) / (passes + 1), f"{name}: {done} of {n} images")

        top1, mean, regions = _csp_errors(geolocator, features, truth, where, tau, extra, normalise, knn, batch_size, done_images)
        rows[f"{name} · top-1"] = error_summary(top1, regions=regions)
        rows[f"{name} · weighted mean"] = error_summary(mean, regions=regions)

    rerank = geolocator.rerank_settings
    if rerank is not None:
        report(passes / (passes + 1), "image neighbours re-ranked by CSP")
        guesses = np.concatenate([geolocator.best_guesses(features[start : start + batch_size], rerank) for start in range(0, n, batch_size)])
        rows[f"{RERANK_ROW} · top-1"] = error_summary(haversine_km(guesses, truth))
    report(passes / (passes + 1), "baselines")
    rows["random point on the sphere"] = error_summary(haversine_km(sample_sphere(n, rng), truth))
    rows["random training location"] = error_summary(haversine_km(train_lonlat[rng.integers(0, len(train), n)], truth))
    rows["density mode"] = error_summary(haversine_km(density_mode(train_lonlat)[None, :], truth))
    _, nearest = geolocator.neighbour_index().search(features, 1)  # the kNN density's index: one standardisation
    rows["image nearest neighbour (Im2GPS)"] = error_summary(haversine_km(train_lonlat[nearest[:, 0]], truth))
    report(1.0, "done")

    settings = {
        "grid resolution": str(grid.resolution) + (f" (refined from {grid.start})" if grid.resolution > grid.start else ""),
        "τ": _tau_text(geolocator, tau),
        "prior": "training density" if prior else "none",
        "image features": geolocator.image_encoder_name,
        **({} if neighbours is None else {"kNN density": _neighbours_text(neighbours)}),
        **({} if rerank is None else {"re-ranking": _rerank_text(rerank)}),
    }
    return GeolocationReport(geolocator.run_dir.name, split, n, settings, rows)

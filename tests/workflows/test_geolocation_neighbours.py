"""The nearest neighbours' kernel density in geolocation: the product P_CSP(x | I) · ((1 − μ) kde + μ/4π)^β gives
the known answer of a direct computation (on the whole grid and through refinement), the fit recovers a known
setting from data drawn from the model, and the fitted settings round-trip through the calibration file (old files
still load) and become the default."""

import json
import math

import h3
import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.special import logsumexp

from core.coords import sample_sphere, unit_vectors
from core.hexgrid import cell_centers, world_cells
from core.workflows.geolocate import GallerySpec, GeolocationError, Geolocator, GridSpec
from core.workflows.geolocation_calibration import (
    CALIBRATION_FILE, Calibration, CalibrationError, TemperatureFit, load_calibration, save_calibration,
)
from core.workflows.geolocation_eval import evaluate_geolocation
from core.workflows.geolocation_neighbour_fit import FitData, NeighbourFit, coverage, fit_neighbours
from core.workflows.geolocation_neighbours import NeighbourDensity, NeighbourIndex, NeighbourSettings, log_vmf_normaliser
from tests.workflows.test_geolocate import exact_data, exact_features, write_exact_run

SETTINGS = NeighbourSettings(k=3, kappa=400.0, similarity_tau=0.1, weight=0.7, floor=0.05)


def direct_log_factor(vectors: np.ndarray, neighbours: np.ndarray, weights: np.ndarray, s: NeighbourSettings) -> np.ndarray:
    """β log((1 − μ) Σ_j w_j vMF(x; y_j, κ) + μ / 4π), summed over every neighbour without a cut-off."""
    kde = (weights * np.exp(s.kappa * (vectors @ neighbours.T - 1.0) + log_vmf_normaliser(s.kappa))).sum(axis=1)
    return s.weight * np.log((1.0 - s.floor) * kde + s.floor / (4.0 * math.pi))


def test_the_vmf_kernel_integrates_to_one_over_the_sphere():
    vectors = unit_vectors(sample_sphere(400_000, np.random.default_rng(0)))
    for kappa in (3.0, 30.0):
        mean = np.exp(kappa * (vectors[:, 2] - 1.0) + log_vmf_normaliser(kappa)).mean()
        assert mean * 4.0 * math.pi == pytest.approx(1.0, rel=0.02)


def test_the_kernel_density_is_the_direct_sum_within_its_cut_off():
    candidates = unit_vectors(cell_centers(world_cells(2)))
    neighbours = unit_vectors(np.array([[10.0, 45.0], [12.0, 46.0], [-70.0, -30.0]]))
    weights = np.array([0.5, 0.3, 0.2])
    factor = NeighbourDensity(neighbours, np.log(weights), SETTINGS).log_factor(candidates, cKDTree(candidates))
    # the cut-off drops at most C(κ) e^−20 of kde per kernel, ~1e-5 of the floor μ/4π here
    assert factor == pytest.approx(direct_log_factor(candidates, neighbours, weights, SETTINGS), abs=1e-4)
    assert factor.min() == pytest.approx(SETTINGS.weight * math.log(SETTINGS.floor / (4.0 * math.pi)))
    assert np.argmax(factor) in np.argsort(-(candidates @ neighbours[0]))[:3], "the peak is at the heaviest neighbour"


@pytest.fixture(scope="module")
def geolocator(tmp_path_factory) -> Geolocator:
    return Geolocator(write_exact_run(tmp_path_factory.mktemp("neighbours") / "run"), data=exact_data(600, seed=4))


def test_the_neighbours_are_the_most_similar_training_images(geolocator):
    index = geolocator.neighbour_index()
    train = geolocator.data.indices("train")
    similarities, indices = index.search(geolocator.data.features[train[:5]], 4)
    assert (indices[:, 0] == np.arange(5)).all() and similarities[:, 0] == pytest.approx(1.0)
    assert (np.diff(similarities, axis=1) <= 1e-9).all(), "best first"


@pytest.mark.parametrize("where", [GridSpec(2), GridSpec(3, coarse_resolution=1)], ids=str)
def test_the_product_is_the_known_answer_of_a_direct_computation(geolocator, where):
    """CSP's softmax at τ times the kNN factor, renormalised: on every cell of the grid and, after refinement, within
    every refined parent (children share its probability in proportion to the product at their centres)."""
    queries = exact_features(sample_sphere(4, np.random.default_rng(5)))
    tau = 0.2
    results = geolocator.locate(queries, where, tau=tau, neighbours=SETTINGS)
    index = geolocator.neighbour_index()
    similarities, indices = index.search(queries, SETTINGS.k)
    for query, result, row, found in zip(queries.numpy(), results, similarities, indices):
        assert result.probs.sum() == pytest.approx(1.0) and (result.probs > 0).all()
        weights = np.exp(row / SETTINGS.similarity_tau - logsumexp(row / SETTINGS.similarity_tau))
        vectors = unit_vectors(result.lonlat)
        expected = vectors @ query / tau + direct_log_factor(vectors, index.vectors[found], weights, SETTINGS)
        if where.resolution == where.start:
            assert result.probs == pytest.approx(np.exp(expected - logsumexp(expected)), rel=1e-4)
        else:  # children of one parent: relative probabilities follow the product at their centres
            fine = [i for i, cell in enumerate(result.cells.tolist()) if h3.get_resolution(cell) == where.resolution]
            parents = np.array([h3.cell_to_parent(str(result.cells[i]), where.resolution - 1) for i in fine])
            siblings = np.array(fine)[parents == parents[0]]
            ratios = np.log(result.probs[siblings]) - expected[siblings]
            assert len(siblings) == 7 and ratios == pytest.approx(np.full(7, ratios[0]), abs=1e-3)
    without = geolocator.locate(queries, where, tau=tau)
    assert not np.allclose(results[0].probs[: len(without[0].probs)], without[0].probs[: len(results[0].probs)])


def test_a_weight_of_zero_leaves_csp_unchanged_and_the_gallery_is_refused(geolocator):
    queries = exact_features(sample_sphere(3, np.random.default_rng(6)))
    off = NeighbourSettings(4, 1000.0, 0.1, 0.0, 0.5)
    for with_knn, plain in zip(geolocator.locate(queries, GridSpec(2), tau=0.1, neighbours=off),
                               geolocator.locate(queries, GridSpec(2), tau=0.1)):
        assert with_knn.probs == pytest.approx(plain.probs, rel=1e-5)
    with pytest.raises(GeolocationError, match="apply to grid candidates"):
        geolocator.locate(queries, GallerySpec(2), neighbours=SETTINGS)


@pytest.mark.parametrize("bad", [dict(k=0), dict(kappa=-1.0), dict(similarity_tau=0.0), dict(weight=-0.5), dict(floor=0.0)])
def test_bad_settings_are_refused_by_name(bad):
    values = {"k": 3, "kappa": 400.0, "similarity_tau": 0.1, "weight": 0.7, "floor": 0.05, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        NeighbourSettings(**values)


def synthetic_fit_data(truth_settings: NeighbourSettings, tau: float, n: int = 1500, seed: int = 7) -> FitData:
    """Images on the resolution-1 grid whose true cells are drawn from the product model with ``truth_settings``."""
    rng = np.random.default_rng(seed)
    cells = np.array(world_cells(1))
    vectors = unit_vectors(cell_centers(cells))
    areas = np.full(len(cells), 1.0)
    similarities = rng.uniform(-1.0, 1.0, size=(n, len(cells))).astype(np.float32)
    neighbour_similarities = -np.sort(-rng.uniform(0.2, 0.9, size=(n, 8)), axis=1)
    neighbour_vectors = unit_vectors(sample_sphere(n * 8, rng)).reshape(n, 8, 3)
    offsets = lambda t: np.zeros(len(cells))  # noqa: E731
    scaled = neighbour_similarities[:, : truth_settings.k] / truth_settings.similarity_tau
    log_weights = scaled - logsumexp(scaled, axis=1, keepdims=True)
    truth = np.empty(n, dtype=np.int64)
    for i in range(n):
        factor = direct_log_factor(vectors, neighbour_vectors[i, : truth_settings.k], np.exp(log_weights[i]), truth_settings)
        logits = similarities[i].astype(np.float64) / tau + factor
        truth[i] = rng.choice(len(cells), p=np.exp(logits - logsumexp(logits)))
    return FitData(similarities, truth, vectors, cKDTree(vectors), areas, neighbour_similarities, neighbour_vectors, offsets)


def test_the_fit_recovers_a_known_setting_from_data_drawn_from_the_model():
    known = NeighbourSettings(k=2, kappa=100.0, similarity_tau=0.05, weight=0.8, floor=0.1)
    data = synthetic_fit_data(known, tau=0.3)
    fit = fit_neighbours(data, 0.3, k_grid=(2, 8), kappa_grid=(20.0, 100.0), similarity_tau_grid=(0.05, 1.0))
    assert (fit.settings.k, fit.settings.kappa, fit.settings.similarity_tau) == (2, 100.0, 0.05)
    assert fit.settings.weight == pytest.approx(0.8, abs=0.15) and fit.settings.floor == pytest.approx(0.1, rel=0.6)
    assert fit.tau == pytest.approx(0.3, rel=0.2), "drawn from the model: its own τ already covers as it says"
    assert fit.coverage == pytest.approx(0.9, abs=0.03) and fit.log_likelihood > fit.log_likelihood_before


def test_coverage_counts_the_truth_inside_the_region_of_densest_cells():
    log_probs = np.log(np.array([[0.6, 0.25, 0.1, 0.05]] * 4))
    truth = np.arange(4)
    assert coverage(log_probs, truth, np.ones(4), 0.5) == 0.25 and coverage(log_probs, truth, np.ones(4), 0.9) == 0.75
    assert coverage(log_probs, truth, np.array([1.0, 1.0, 1.0, 1e-3]), 0.5) == 0.5, "a tiny cell is densest"


def calibration_with(neighbours: NeighbourFit | None) -> Calibration:
    return Calibration(TemperatureFit(0.08, -8.0, -8.2), TemperatureFit(0.09, -8.1, -8.3), 0.1, "val", 300, 2, neighbours)


def test_the_calibration_file_round_trips_and_old_files_load_without_neighbours(tmp_path, geolocator):
    fit = NeighbourFit(SETTINGS, 0.12, -7.5, -8.1, 0.9)
    save_calibration(tmp_path, calibration_with(fit))
    assert load_calibration(tmp_path) == calibration_with(fit)
    values = json.loads((tmp_path / CALIBRATION_FILE).read_text())
    del values["neighbours"]  # a file written before the kNN density
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(values))
    old = load_calibration(tmp_path)
    assert old == calibration_with(None) and old.tau(True, neighbours=True) == 0.09
    values["neighbours"] = {**json.loads(json.dumps(fit.__dict__, default=lambda s: s.__dict__)), "tau": 0.12}
    values["neighbours"]["settings"]["k"] = 0
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(values))
    with pytest.raises(CalibrationError, match="not a geolocation calibration"):
        load_calibration(tmp_path)


def test_a_calibrated_run_uses_its_neighbour_density_by_default(tmp_path):
    data = exact_data(600, seed=4)
    run_dir = write_exact_run(tmp_path / "run")
    save_calibration(run_dir, calibration_with(NeighbourFit(SETTINGS, 0.12, -7.5, -8.1, 0.9)))
    geolocator = Geolocator(run_dir, data=data)
    assert geolocator.neighbour_settings == SETTINGS and geolocator.default_tau(True, neighbours=True) == 0.12
    queries = exact_features(sample_sphere(2, np.random.default_rng(8)))
    default = geolocator.locate(queries, GridSpec(2), normalise=True, neighbours=geolocator.neighbour_settings)
    explicit = geolocator.locate(queries, GridSpec(2), tau=0.12, normalise=True, neighbours=SETTINGS)
    assert all(np.array_equal(a.probs, b.probs) for a, b in zip(default, explicit))
    report = evaluate_geolocation(geolocator, "test", GridSpec(2), gallery=False, limit=20)
    table = report.table()
    assert "CSP grid ÷ Z(x) × kNN density · top-1" in table.index and "CSP grid ÷ Z(x) · top-1" in table.index
    assert "k 3, κ 400" in report.settings["kNN density"] and "× kNN density 0.12" in report.settings["τ"]

"""Calibrated geolocation: the temperature fit recovers a known τ from synthetic scores (with and without the
÷ Z(x) offsets, which depend on τ), the coverage columns give a known answer, the fitted temperatures are stored
in the run and used by default, and a damaged calibration file is refused by name."""

import json

import numpy as np
import pytest
from scipy.special import logsumexp

from core.hexgrid import cell_area_km2, cell_centers, cells_of
from core.workflows.geolocate import Geolocation, GeolocationError, Geolocator, GridSpec
from core.workflows.geolocation_calibration import (
    CALIBRATION_FILE, calibrate, fit_temperature, load_calibration, marginal_offsets, mean_log_likelihood, save_calibration,
)
from core.workflows.geolocation_eval import AREA_COLUMN, LOG_LIKELIHOOD_COLUMN, RegionStats, coverage_column, evaluate_geolocation
from tests.workflows.test_geolocate import exact_data, write_exact_run


def sample_truth(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    probs = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    return np.array([rng.choice(len(row), p=row) for row in probs])


@pytest.mark.parametrize("true_tau", [0.03, 0.2])
def test_the_fit_recovers_a_known_temperature(true_tau):
    rng = np.random.default_rng(1)
    similarities = rng.uniform(-1, 1, size=(3000, 400)).astype(np.float32)
    truth = sample_truth(similarities.astype(np.float64) / true_tau, rng)
    tau, best = fit_temperature(similarities, truth)
    assert tau == pytest.approx(true_tau, rel=0.08)
    assert best >= mean_log_likelihood(similarities, truth, true_tau) - 1e-9
    assert best > mean_log_likelihood(similarities, truth, true_tau * 3) and best > mean_log_likelihood(similarities, truth, true_tau / 3)


def test_the_fit_recovers_a_known_temperature_through_the_image_marginal():
    rng = np.random.default_rng(2)
    similarities = rng.uniform(-1, 1, size=(3000, 300)).astype(np.float32)
    offsets = marginal_offsets(rng.uniform(-1, 1, size=(300, 64)).astype(np.float32) + np.linspace(-0.5, 0.5, 300)[:, None])
    truth = sample_truth(similarities / 0.1 + offsets(0.1), rng)
    tau, _ = fit_temperature(similarities, truth, offsets)
    assert tau == pytest.approx(0.1, rel=0.08)


def test_the_calibration_columns_give_the_known_answer():
    cells = np.array(cells_of(np.array([[0.0, 0.0], [40.0, 0.0], [80.0, 0.0], [120.0, 0.0]]), 0))
    probs = np.array([0.6, 0.25, 0.1, 0.05])
    result = Geolocation("grid", cell_centers(cells), probs, cells, np.full(4, 1000.0), 0)
    truths = cell_centers(cells)  # a photo taken in each cell
    assert [result.region_contains(tuple(p), 0.5) for p in truths] == [True, False, False, False]
    assert [result.region_contains(tuple(p), 0.9) for p in truths] == [True, True, True, False]
    assert [result.probability_at(tuple(p)) for p in truths] == pytest.approx(probs.tolist())
    stats = RegionStats({0.5: np.array([True, False, False, False]), 0.9: np.array([True, True, True, False])},
                        np.array([1.0, 3.0, 5.0, 100.0]), np.log(probs))
    assert stats.columns() == pytest.approx({coverage_column(0.5): 25.0, coverage_column(0.9): 75.0, AREA_COLUMN: 4.0,
                                            LOG_LIKELIHOOD_COLUMN: float(np.mean(np.log(probs)))})


def test_a_run_calibrated_on_val_uses_its_temperatures_by_default_and_regions_cover_as_they_say(tmp_path):
    data = exact_data(1500, seed=3)
    data.splits[1::5] = "val"
    run_dir = write_exact_run(tmp_path / "run")
    geolocator = Geolocator(run_dir, data=data)
    assert geolocator.calibration is None and geolocator.default_tau(True) == geolocator.tau
    calibration = calibrate(geolocator, n_images=300, resolution=1)
    assert calibration.n_images == 300 and calibration.plain.log_likelihood > calibration.plain.log_likelihood_before
    assert calibration.normalised.log_likelihood >= calibration.normalised.log_likelihood_before
    save_calibration(run_dir, calibration)

    reloaded = Geolocator(run_dir, data=data)
    assert reloaded.calibration == calibration
    assert (reloaded.default_tau(False), reloaded.default_tau(True)) == (calibration.plain.tau, calibration.normalised.tau)
    report = evaluate_geolocation(reloaded, "test", GridSpec(1), gallery=False)
    assert "calibrated on 300 val images" in report.settings["τ"]
    row = report.table().loc["CSP grid · top-1"]
    assert row[coverage_column(0.9)] >= 85.0 and row[coverage_column(0.5)] >= 45.0, "exact features: no region undercovers"
    assert row[LOG_LIKELIHOOD_COLUMN] > np.log(1 / 842), "better than a uniform guess over the 842 cells"


@pytest.mark.parametrize(("content", "message"), [("{not json", "not a geolocation calibration"),
                                                  ('{"plain": 1}', "not a geolocation calibration")])
def test_a_damaged_calibration_file_is_refused_by_name(tmp_path, content, message):
    run_dir = write_exact_run(tmp_path / "run")
    (run_dir / CALIBRATION_FILE).write_text(content)
    with pytest.raises(GeolocationError, match=f"{CALIBRATION_FILE}: {message}"):
        Geolocator(run_dir, data=exact_data(100))


def test_an_out_of_range_stored_temperature_is_refused(tmp_path):
    run_dir = write_exact_run(tmp_path / "run")
    fit = {"tau": 50.0, "log_likelihood": -1.0, "log_likelihood_before": -2.0}
    values = {"plain": fit, "normalised": fit, "trained_tau": 0.1, "split": "val", "n_images": 10, "resolution": 3}
    (run_dir / CALIBRATION_FILE).write_text(json.dumps(values))
    with pytest.raises(Exception, match="a temperature outside"):
        load_calibration(run_dir)

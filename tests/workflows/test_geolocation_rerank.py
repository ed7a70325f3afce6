"""The image's nearest training images' places re-ranked by CSP: the scores are the known answer of a direct
computation, the two limits pick the nearest image and CSP's favourite, the fit chooses the setting that finds a
planted answer, the choice round-trips through the calibration file (old files still load), and a calibrated run
answers with it by default and reports it in the geolocation table."""

import json
import math

import numpy as np
import pytest

from core.coords import haversine_km, unit_vectors
from core.workflows.geolocate import GeolocationError, Geolocator, GridSpec
from core.workflows.geolocation_calibration import (
    CALIBRATION_FILE, Calibration, TemperatureFit, calibrate, load_calibration, save_calibration,
)
from core.workflows.geolocation_eval import RERANK_ROW, evaluate_geolocation
from core.workflows.geolocation_neighbours import log_vmf_normaliser
from core.workflows.geolocation_rerank import NeighbourCandidates, RerankFit, RerankSettings, fit_rerank, share_within
from tests.workflows.test_geolocate import exact_data, write_exact_run

SETTINGS = RerankSettings(k=3, kappa=2000.0, similarity_tau=0.05, csp_weight=1.5)


def candidates_of(places: np.ndarray, similarities: np.ndarray, csp_logits: np.ndarray) -> NeighbourCandidates:
    """Candidates ``[B, K]`` from places ``[B, K, 2]``, with the cosines between the places computed here."""
    vectors = unit_vectors(places.reshape(-1, 2)).reshape(*places.shape[:2], 3)
    return NeighbourCandidates(places, similarities, csp_logits, np.einsum("bid,bjd->bij", vectors, vectors))


def random_candidates(n: int, k: int, seed: int) -> NeighbourCandidates:
    rng = np.random.default_rng(seed)
    places = np.stack([rng.uniform(-180, 180, (n, k)), rng.uniform(-60, 60, (n, k))], axis=-1)
    similarities = -np.sort(-rng.uniform(0.2, 0.9, (n, k)), axis=1)
    csp_logits = rng.permuted(np.tile(np.arange(k, dtype=np.float64), (n, 1)), axis=1)  # a clear favourite per image
    return candidates_of(places, similarities, csp_logits)


def test_the_scores_are_the_direct_sum_of_csp_and_the_neighbours_votes():
    candidates = random_candidates(4, 5, seed=1)
    scores = candidates.scores(SETTINGS)
    assert scores.shape == (4, 3), "only the first k neighbours are candidates and voters"
    for b in range(4):
        weights = np.exp(candidates.similarities[b, :3] / SETTINGS.similarity_tau)
        weights /= weights.sum()
        vectors = unit_vectors(candidates.places[b, :3])
        for j in range(3):
            kde = sum(weights[i] * math.exp(SETTINGS.kappa * (vectors[j] @ vectors[i] - 1.0) + log_vmf_normaliser(SETTINGS.kappa)) for i in range(3))
            assert scores[b, j] == pytest.approx(SETTINGS.csp_weight * candidates.csp_logits[b, j] + math.log(kde), rel=1e-9)


def test_without_csp_the_nearest_image_wins_and_with_a_heavy_csp_weight_csp_chooses():
    candidates = random_candidates(50, 8, seed=2)  # places hundreds of km apart: each kernel only votes for its own place
    nearest = candidates.choose(RerankSettings(8, 1e5, 0.01, 0.0))
    assert np.array_equal(nearest, candidates.places[:, 0])
    favourite = candidates.choose(RerankSettings(8, 1e5, 0.01, 1e6))
    assert np.array_equal(favourite, candidates.places[np.arange(50), candidates.csp_logits.argmax(axis=1)])


def test_agreeing_neighbours_outvote_a_single_more_similar_one():
    paris, lyon_area, sydney = [2.35, 48.86], [4.8, 45.7], [151.2, -33.9]
    places = np.array([[sydney, lyon_area, [4.9, 45.8], [4.7, 45.6]]])  # the most similar image is alone in Sydney
    candidates = candidates_of(places, np.array([[0.80, 0.79, 0.78, 0.77]]), np.zeros((1, 4)))
    guess = candidates.choose(RerankSettings(4, 1000.0, 0.1, 0.0))
    assert haversine_km(guess, np.array([lyon_area]))[0] < 50 and haversine_km(guess, np.array([paris]))[0] > 300


def test_the_fit_chooses_settings_that_find_a_planted_answer():
    candidates = random_candidates(300, 16, seed=3)
    truth = candidates.places[np.arange(300), candidates.csp_logits.argmax(axis=1)]  # CSP's favourite is right
    fit = fit_rerank(candidates, truth, k_grid=(16,), kappa_grid=(1e4,), similarity_tau_grid=(0.05,), csp_weight_grid=(0.0, 1000.0))
    assert fit.settings == RerankSettings(16, 1e4, 0.05, 1000.0)
    assert fit.within == {"200": 100.0, "750": 100.0, "2500": 100.0} and fit.n_images == 300
    assert fit.nearest_within == share_within(candidates.places[:, 0], truth) and fit.nearest_within["200"] < 20


@pytest.mark.parametrize("bad", [dict(k=0), dict(kappa=0.0), dict(similarity_tau=math.inf), dict(csp_weight=-1.0)], ids=str)
def test_bad_settings_are_refused_by_name(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        RerankSettings(**{"k": 4, "kappa": 1e3, "similarity_tau": 0.1, "csp_weight": 1.0, **bad})


def calibration_with(rerank: RerankFit | None) -> Calibration:
    fit = TemperatureFit(0.08, -8.0, -8.2)
    return Calibration(fit, TemperatureFit(0.09, -8.1, -8.3), 0.1, "val", 300, 2, None, rerank)


def test_the_choice_round_trips_through_the_calibration_file_and_old_files_load_without_it(tmp_path):
    fit = RerankFit(SETTINGS, {"200": 10.0, "750": 30.0, "2500": 55.0}, {"200": 9.0, "750": 22.0, "2500": 48.0}, 300)
    save_calibration(tmp_path, calibration_with(fit))
    assert load_calibration(tmp_path) == calibration_with(fit)
    assert "CSP weight 1.5" in calibration_with(fit).summary() and "(the nearest image alone: 9.0 / 22.0 / 48.0 %)" in calibration_with(fit).summary()
    values = json.loads((tmp_path / CALIBRATION_FILE).read_text())
    del values["rerank"]  # a file written before the re-ranking
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(values))
    assert load_calibration(tmp_path) == calibration_with(None)


def test_a_calibrated_run_answers_with_its_re_ranking_and_reports_it(tmp_path):
    data = exact_data(600, seed=5)
    data.splits[1::5] = "val"
    run_dir = write_exact_run(tmp_path / "run")
    geolocator = Geolocator(run_dir, data=data)
    with pytest.raises(GeolocationError, match="geolocate --calibrate"):
        geolocator.best_guesses(data.features[:2])
    calibration = calibrate(geolocator, n_images=200, resolution=1)
    assert calibration.rerank is not None and calibration.rerank.n_images == calibration.n_images
    save_calibration(run_dir, calibration)
    geolocator = Geolocator(run_dir, data=data)
    assert geolocator.rerank_settings == calibration.rerank.settings
    test = data.indices("test")[:20]
    guesses = geolocator.best_guesses(data.features[test])
    train_places = {tuple(p) for p in geolocator.train_lonlat.tolist()}
    assert guesses.shape == (20, 2) and all(tuple(p) in train_places for p in guesses.tolist()), "a training image's place"
    report = evaluate_geolocation(geolocator, "test", GridSpec(1), gallery=False, limit=20)
    row = report.table().loc[f"{RERANK_ROW} · top-1"]
    assert np.isnan(row["in 90 % region (%)"]), "a point estimate has no credible region"
    assert f"CSP weight {calibration.rerank.settings.csp_weight:g}" in report.settings["re-ranking"]

"""Geolocation evaluation: km thresholds on known city pairs, the baselines, the report files, and the command
line on a tiny real run (a small default dataset with small-CNN features)."""

import numpy as np
import pandas as pd
import pytest
import torch

from core.workflows import geolocate
from core.__main__ import main
from core.coords import haversine_km
from core.workflows.geolocate import Geolocator, GridSpec
from core.workflows.geolocation_eval import THRESHOLDS_KM, density_mode, error_summary, evaluate_geolocation
from core.workflows.geolocation_neighbours import NeighbourIndex
from core.hexgrid import cell_centers, cells_of
from core.train.runner import run
from tests.workflows.test_geolocate import exact_data, write_exact_run
from tests.workflows.test_predict import tiny_config, tiny_feature_data

PARIS, LONDON, VERSAILLES = [2.3522, 48.8566], [-0.1278, 51.5074], [2.1301, 48.8049]
MADRID, NEW_YORK = [-3.7038, 40.4168], [-74.006, 40.7128]


def test_haversine_gives_the_reference_distances_of_known_city_pairs():
    assert haversine_km(PARIS, LONDON) == pytest.approx(343.5, abs=0.1)
    assert haversine_km(PARIS, MADRID) == pytest.approx(1053.0, abs=1.0)
    assert haversine_km(PARIS, NEW_YORK) == pytest.approx(5837.0, abs=2.0)


def test_km_thresholds_count_known_pairs_inclusively():
    errors = haversine_km(np.array([PARIS, VERSAILLES, LONDON, MADRID, NEW_YORK]), np.array(PARIS)[None, :])
    summary = error_summary(errors)
    assert [summary[f"≤ {t:g} km (%)"] for t in THRESHOLDS_KM] == [20.0, 40.0, 40.0, 60.0, 80.0]
    assert summary["median km"] == pytest.approx(343.5, abs=0.1)
    assert error_summary(np.array([25.0, 25.0001]))["≤ 25 km (%)"] == 50.0, "a threshold counts errors up to and including it"
    with pytest.raises(ValueError, match="non-empty 1-D array of finite distances"):
        error_summary(np.array([]))


def test_the_baselines_are_the_density_mode_and_the_nearest_image():
    train = np.array([[10.0, 50.0], [10.1, 50.1], [10.2, 49.9], [-60.0, -20.0]])
    np.testing.assert_allclose(density_mode(train, resolution=1), cell_centers(cells_of(train[:1], 1))[0])
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    _, nearest = NeighbourIndex.build(features, train).search(features[[3, 0]] * 2.0, 1)
    np.testing.assert_array_equal(train[nearest[:, 0]], train[[3, 0]])


def test_exact_features_beat_every_baseline(tmp_path):
    geolocator = Geolocator(write_exact_run(tmp_path / "exact"), data=exact_data(600))
    report = evaluate_geolocation(geolocator, "test", GridSpec(3), tau=1e-3)
    table = report.table()
    assert report.n_images == 120 and report.split == "test"
    assert table.loc["CSP grid · top-1", "≤ 200 km (%)"] == 100.0, "within a resolution-3 cell of every true place"
    assert table.loc["CSP grid · top-1", "median km"] < 60.0
    assert table.loc["CSP grid · top-1", "in 90 % region (%)"] == 100.0
    assert np.isfinite(table.loc["CSP grid ÷ Z(x) · weighted mean", "median km"])  # Z(x) suits trained runs, not this one
    for baseline in ("random point on the sphere", "random training location", "density mode", "image nearest neighbour (Im2GPS)"):
        assert table.loc[baseline, "median km"] > 3 * table.loc["CSP grid · top-1", "median km"], baseline
        assert np.isnan(table.loc[baseline, "in 90 % region (%)"])
    assert table.loc["random point on the sphere", "median km"] > 5000.0
    markdown, csv = report.write(tmp_path)
    assert markdown.name == "geolocation-test.md" and "| CSP grid · top-1 | 0.0 |" in markdown.read_text()
    assert "| density mode |" in markdown.read_text() and "–" in markdown.read_text()
    pd.testing.assert_frame_equal(pd.read_csv(csv, index_col="method"), table, atol=1e-3)
    with pytest.raises(ValueError, match="split must be one of"):
        evaluate_geolocation(geolocator, "holdout")


@pytest.fixture(scope="module")
def tiny_pretrain(tmp_path_factory):
    """A tiny CSP pre-training run on the small default dataset, and that data."""
    base = tmp_path_factory.getbasetemp() / "predict-tiny-data"
    _, data = tiny_feature_data(base)
    run_dir = tmp_path_factory.mktemp("geolocate-runs") / "20250101-000002-pretrain-cccccc"
    run(tiny_config("pretrain"), run_dir, data=data)
    return run_dir, data


def test_the_command_line_prints_and_writes_the_table(tiny_pretrain, tmp_path, monkeypatch, capsys):
    run_dir, data = tiny_pretrain
    monkeypatch.setattr(geolocate, "load_feature_data", lambda config, progress=None: data)
    arguments = ["--run", str(run_dir), "--split", "test", "--limit", "40", "--resolution", "2", "--out", str(tmp_path)]
    assert main(["geolocate", *arguments]) == 0
    out = capsys.readouterr().out
    assert "Geolocation of 40 test images, run 20250101-000002-pretrain-cccccc" in out and "grid resolution 2" in out
    methods = ("CSP grid · top-1", "CSP grid · weighted mean", "CSP gallery · top-1", "image nearest neighbour (Im2GPS)", "density mode")
    for method in (*methods, "CSP grid ÷ Z(x) · top-1"):
        assert f"| {method} |" in out
    assert (tmp_path / "geolocation-test.md").read_text() in out
    assert list(pd.read_csv(tmp_path / "geolocation-test.csv")["method"])[-1] == "image nearest neighbour (Im2GPS)"


def test_the_command_line_refuses_runs_that_cannot_geolocate_and_bad_settings(tiny_pretrain, tmp_path, capsys):
    run_dir, data = tiny_pretrain
    finetune = run(tiny_config("finetune", epochs=1), tmp_path / "finetune", data=data).run_dir
    assert main(["geolocate", "--run", str(finetune)]) == 2
    error = capsys.readouterr().err
    assert "is a fine-tuned location classifier (stage finetune)" in error and "CSP pre-training run (stage pretrain)" in error
    assert "Traceback" not in error
    assert main(["geolocate", "--run", str(run_dir), "--resolution", "9"]) == 2
    assert "grid resolution must be an integer H3 resolution in 0..7, got 9" in capsys.readouterr().err
    assert main(["geolocate", "--run", str(run_dir), "--tau", "0"]) == 2
    assert "temperature τ must be a number" in capsys.readouterr().err


def test_the_command_line_calibrates_the_run_then_uses_its_temperatures(tiny_pretrain, tmp_path, monkeypatch, capsys):
    import shutil

    from core.workflows.geolocation_calibration import CALIBRATION_FILE

    run_dir, data = tiny_pretrain
    copy = shutil.copytree(run_dir, tmp_path / run_dir.name)
    monkeypatch.setattr(geolocate, "load_feature_data", lambda config, progress=None: data)
    arguments = ["--run", str(copy), "--split", "test", "--limit", "30", "--resolution", "2", "--no-gallery", "--out", str(tmp_path)]
    assert main(["geolocate", "--calibrate", *arguments]) == 0
    out = capsys.readouterr().out
    assert "P(x | I): τ " in out and "P(x | I) ÷ Z(x): τ " in out and (copy / CALIBRATION_FILE).is_file()
    assert "calibrated on " in out and "| CSP grid · top-1 |" in out and "in 50 % region (%)" in out
    assert "P(x | I) ÷ Z(x) × kNN density: k " in out and "| CSP grid ÷ Z(x) × kNN density · top-1 |" in out
    assert "image neighbours re-ranked by CSP ÷ Z(x): k " in out and "| image neighbours re-ranked by CSP ÷ Z(x) · top-1 |" in out
    assert main(["geolocate", "--uncalibrated", *arguments]) == 0
    assert "τ 0.1," in capsys.readouterr().out, "the trained temperature, as asked"

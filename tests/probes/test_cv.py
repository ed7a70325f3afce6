"""Spatially blocked CV: no block in two folds; probes solve what their features can express and fail otherwise."""

import numpy as np
import pytest

from core.coords import sample_sphere
from core.coords import unit_vectors
from core.probes import ProbeTask, block_groups, blocked_folds, choose_block_resolution, run_probes
from core.probes.cv import INNER_FOLDS, LOGISTIC_CS, inner_folds, make_probe


def _points(n: int, seed: int = 1) -> np.ndarray:
    return sample_sphere(n, np.random.default_rng(seed))


def test_folds_never_split_a_block_and_cover_every_point_once():
    lonlat = _points(1500)
    groups, resolution = block_groups(lonlat, resolution=1)
    folds = blocked_folds(groups, n_folds=5, seed=3)
    assert resolution == 1 and len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(lonlat)))
    fold_of_block: dict[str, int] = {}
    for index, (train, test) in enumerate(folds):
        assert not set(train) & set(test)
        assert not set(groups[train]) & set(groups[test]), "a block is in both the training and the test part"
        for block in set(groups[test].tolist()):
            assert fold_of_block.setdefault(block, index) == index, f"block {block} is tested in two folds"


def test_block_resolution_follows_point_density():
    assert choose_block_resolution(_points(3000)) == 0
    regional = np.column_stack([np.random.default_rng(0).uniform(5, 8, 800), np.random.default_rng(1).uniform(44, 47, 800)])
    assert choose_block_resolution(regional) >= 3


def test_too_few_blocks_is_a_clear_error():
    lonlat = np.array([[2.35, 48.86]] * 60)
    with pytest.raises(ValueError, match="too concentrated"):
        choose_block_resolution(lonlat)
    with pytest.raises(ValueError, match="cannot make 5 folds"):
        blocked_folds(np.array(["a", "b", "a"]), 5)


def test_a_function_of_latitude_is_solved_by_xyz_and_missed_where_expected():
    lonlat = _points(1200)
    lat = np.radians(lonlat[:, 1])
    tasks = [
        ProbeTask("sin_lat", "regression", lonlat, np.sin(lat)),  # = z: linear in xyz
        ProbeTask("abs_lat", "regression", lonlat, np.abs(np.sin(lat))),  # even in z: no linear xyz or (lon, lat) fit
    ]
    report = run_probes(["lonlat", "xyz", "encoding:spherical_harmonics:degree=6"], tasks)
    r2 = {(r.task, r.embedding): r.mean() for r in report.results}
    assert r2["sin_lat", "xyz"] > 0.999
    assert r2["sin_lat", "lonlat"] < r2["sin_lat", "xyz"] - 0.01
    assert r2["abs_lat", "xyz"] < 0.1 and r2["abs_lat", "lonlat"] < 0.1
    assert r2["abs_lat", "encoding:spherical_harmonics:degree=6"] > 0.95
    assert r2["abs_lat", "knn (xyz)"] > 0.9
    result = report.result("sin_lat", "xyz")
    assert np.abs(result.residuals(tasks[0])).max() < 0.01 and len(result.scores["r2"]) == 5


def test_classification_scores_and_out_of_fold_predictions():
    lonlat = _points(900)
    north = (lonlat[:, 1] > 0).astype(np.int64)
    task = ProbeTask("hemisphere", "classification", lonlat, north, ("south", "north"))
    report = run_probes(["xyz", "lonlat"], [task], knn=False)
    assert report.result("hemisphere", "xyz").mean("accuracy") > 0.97
    assert report.result("hemisphere", "lonlat").mean("macro_f1") > 0.95
    assert set(report.result("hemisphere", "xyz").oof.tolist()) <= {0, 1}
    assert list(report.table().index) == ["xyz", "lonlat"]



def test_the_linear_probes_choose_their_penalty_on_blocked_inner_folds():
    lonlat = _points(900, seed=4)
    groups, _ = block_groups(lonlat, resolution=1)
    train, _ = blocked_folds(groups)[0]
    inner = inner_folds(groups[train])
    assert len(inner) == INNER_FOLDS
    for fit_rows, score_rows in inner:
        assert not set(groups[train][fit_rows]) & set(groups[train][score_rows]), "a block on both sides of an inner fold"
    bands = np.digitize(lonlat[train, 1], [-30, 30])
    probe = make_probe("classification", "linear", inner).fit(unit_vectors(lonlat[train]), bands)
    assert probe[-1].C_ in LOGISTIC_CS and probe.score(unit_vectors(lonlat[train]), bands) > 0.9
    assert inner_folds(np.array(["one block"] * 5)) is None

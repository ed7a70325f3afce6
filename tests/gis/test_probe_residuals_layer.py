"""Probe residuals as a GIS layer: class names, not indices, and a wrong class marked 1."""

import geopandas as gpd
import numpy as np

from core.gis.export import write_layer
from core.gis.tables import probe_residuals_layer
from core.probes import ProbeTask, run_probes


def test_a_classification_task_exports_names_and_right_wrong(tmp_path):
    rng = np.random.default_rng(0)
    lonlat = np.column_stack([rng.uniform(-180, 180, 400), rng.uniform(-80, 80, 400)])
    task = ProbeTask("hemisphere", "classification", lonlat, (lonlat[:, 1] > 0).astype(np.int64), ("south", "north"))
    report = run_probes(["xyz"], [task], n_folds=3, knn=False)
    layer = gpd.read_file(write_layer(probe_residuals_layer(report, "hemisphere"), tmp_path / "r.geojson"))
    assert len(layer) == 400 and layer.crs.to_epsg() == 4326
    assert set(layer["target"]) == {"south", "north"} and set(layer["pred_xyz"]) <= {"south", "north"}
    wrong = (layer["pred_xyz"] != layer["target"]).astype(float)
    np.testing.assert_array_equal(layer["resid_xyz"], wrong)
    assert np.array_equal(layer["target"] == "north", layer.geometry.y > 0)

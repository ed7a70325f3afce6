"""Zonal summaries: the mean per polygon over the H3 cells it holds, checked against a hand computation."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import torch
from shapely.geometry import Polygon, box

from core.location import loading as encoders
from core.gis.export import write_layer
from core.gis.zonal import run_zonal_summary, zonal_summary
from core.hexgrid import cell_centers, world_cells

RESOLUTION = 2
ZONES = gpd.GeoDataFrame(
    {"name": ["square", "pacific"]},
    geometry=[box(0.0, 0.0, 20.0, 20.0), Polygon([(170.0, -10.0), (190.0, -10.0), (190.0, 10.0), (170.0, 10.0)])],
    crs="EPSG:4326",
)


def cells_with_values() -> pd.DataFrame:
    """Every world cell with value = its centre's longitude and a cluster from its centre's position (0..2)."""
    cells = world_cells(RESOLUTION)
    lon, lat = cell_centers(cells).T
    return pd.DataFrame({"cell": cells, "value": lon, "cluster": (lon > 10.0).astype(int) + (lat > 5.0)})


def test_two_polygons_match_the_hand_computed_mean():
    table = cells_with_values()
    lon, lat = cell_centers(table["cell"])[:, 0], cell_centers(table["cell"])[:, 1]
    in_square = (lon >= 0) & (lon <= 20) & (lat >= 0) & (lat <= 20)
    in_pacific = ((lon >= 170) | (lon <= -170)) & (np.abs(lat) <= 10)
    summary = zonal_summary(ZONES, table, RESOLUTION, ["value"], "cluster")
    assert list(summary["name"]) == ["square", "pacific"]
    assert list(summary["n_cells"]) == [in_square.sum(), in_pacific.sum()]
    assert summary["value"].tolist() == pytest.approx([lon[in_square].mean(), lon[in_pacific].mean()])
    clusters = table["cluster"].to_numpy()
    assert list(summary["dominant_cluster"]) == [np.bincount(clusters[in_square]).argmax(), np.bincount(clusters[in_pacific]).argmax()]
    assert summary.crs.equals("EPSG:4326")


def test_a_zone_too_small_for_any_cell_centre_says_so():
    tiny = gpd.GeoDataFrame(geometry=[box(0.0, 0.0, 0.01, 0.01)], crs="EPSG:4326")
    summary = zonal_summary(tiny, cells_with_values(), RESOLUTION, ["value"], "cluster")
    assert summary["n_cells"].iloc[0] == 0 and np.isnan(summary["value"].iloc[0]) and summary["dominant_cluster"].iloc[0] == -1


class LongitudeClassifier:
    """P(east | x) = 1 east of 0°, else P(west | x) = 1: an exact location classifier for the test."""

    class_names = ["west", "east"]

    def location_probs(self, lonlat) -> torch.Tensor:
        east = torch.as_tensor(np.asarray(lonlat)[:, 0] > 0.0, dtype=torch.float32)
        return torch.stack([1.0 - east, east], dim=1)


def test_run_zonal_summary_gives_class_means_and_clusters_as_a_layer(tmp_path):
    encoder = encoders.load_choice(encoders.EncoderChoice("untrained", "wrap"))
    summary = run_zonal_summary(ZONES, LongitudeClassifier(), encoder, RESOLUTION, k=3)
    assert summary.loc[0, "p_east"] == pytest.approx(1.0) and summary.loc[0, "argmax"] == "east"
    assert 0.3 < summary.loc[1, "p_east"] < 0.7, "the Pacific zone has cells on both sides of ±180"
    assert set(summary["dominant_cluster"]) <= {0, 1, 2}
    back = gpd.read_file(write_layer(summary, tmp_path / "zonal.gpkg"))
    assert list(back.columns) == ["name", "n_cells", "p_west", "p_east", "dominant_cluster", "argmax", "geometry"]
    with pytest.raises(ValueError, match="choose a finer resolution"):
        run_zonal_summary(ZONES.set_geometry([box(0, 0, 0.01, 0.01)] * 2), LongitudeClassifier(), encoder, RESOLUTION)

"""``python -m core embed``: the Dask path on a 2-worker LocalCluster equals the single process; the command's
output and its errors (missing file, unknown column, bad encoder, bad rows)."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from core.__main__ import main
from core.embed import BadRowsError, embed_points_dask

ENCODER = "encoding:sphereC:num_scales=8,r_min=0.01"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    """The same 900 points (EPSG:3857, two of them bad, polygons among them) as one GeoParquet file and as a
    dataset folder of three parts."""
    folder = tmp_path_factory.mktemp("dask")
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(-179, 179, 900), rng.uniform(-84, 84, 900)
    lat[[4, 610]] = [np.nan, 95.0]  # NaN, and a latitude past the pole (infinite in EPSG:3857)
    frame = gpd.GeoDataFrame({"id": np.arange(900), "tag": [f"p{i}" for i in range(900)]}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    squares = frame["id"] % 100 == 1
    frame.loc[squares, "geometry"] = [box(x - 0.5, y - 0.5, x + 0.5, y + 0.5) for x, y in zip(lon[squares], lat[squares])]
    frame = frame.to_crs("EPSG:3857")
    frame.to_parquet(folder / "points.parquet")
    (folder / "parts").mkdir()
    for part in range(3):
        frame.iloc[part * 300 : (part + 1) * 300].to_parquet(folder / "parts" / f"part.{part}.parquet")
    return folder / "points.parquet", folder / "parts"


def test_dask_on_two_local_workers_equals_the_single_process(dataset, tmp_path, capsys):
    single, parts = dataset
    assert main(["embed", "--encoder", ENCODER, "--points", str(single), "--out", str(tmp_path / "single.parquet")]) == 0
    assert main(["embed", "--encoder", ENCODER, "--points", str(parts), "--out", str(tmp_path / "dask"), "--dask", "--workers", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("898 of 900 rows embedded") == 2 and printed.count("row 4: no coordinates") == 2
    assert "9 row(s) are lines or polygons" in printed and "3 partition(s) written" in printed
    written = sorted((tmp_path / "dask").glob("part.*.parquet"))
    assert [p.name for p in written] == ["part.00000.parquet", "part.00001.parquet", "part.00002.parquet"]
    together = pd.concat([gpd.read_parquet(p) for p in written], ignore_index=True)
    alone = gpd.read_parquet(tmp_path / "single.parquet")
    assert together.drop(columns="embedding").equals(alone.drop(columns="embedding")) and together.crs.equals(alone.crs)
    np.testing.assert_array_equal(np.stack(together["embedding"]), np.stack(alone["embedding"]))


def test_dask_fail_lists_bad_rows_across_partitions_and_writes_nothing(dataset, tmp_path):
    _, parts = dataset
    with pytest.raises(BadRowsError, match=r"2 row\(s\) cannot be embedded: row 4: no coordinates.*row 610: "):
        embed_points_dask(ENCODER, parts, tmp_path / "dask", on_bad_rows="fail", processes=False)
    assert not list(tmp_path.iterdir())


def test_the_command_explains_what_it_cannot_use(tmp_path, capsys):
    points = tmp_path / "places.csv"
    points.write_text("name,lon,lat\nParis,2.35,48.86\nNorth,10,91\n")
    out = tmp_path / "out.parquet"
    cases = {
        ("--encoder", ENCODER, "--points", str(tmp_path / "nope.csv")): "nope.csv: no such file",
        ("--encoder", "runs/no-such-run", "--points", str(points)): "runs/no-such-run: no such folder",
        ("--encoder", "encoding:no-such", "--points", str(points)): "unknown encoding 'no-such'",
        ("--encoder", ENCODER, "--points", str(points), "--on-bad-rows", "fail"): "row 1: latitude 91 is outside [-90, 90]",
    }
    wrong_column = tmp_path / "cities.csv"
    wrong_column.write_text("city,x_coord,y_coord\nParis,2.35,48.86\n")
    cases[("--encoder", ENCODER, "--points", str(wrong_column))] = "needs a longitude and a latitude column"
    for arguments, message in cases.items():
        assert main(["embed", *arguments, "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*"))

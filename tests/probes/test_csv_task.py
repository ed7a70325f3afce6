"""Bring-your-own probe tasks from CSV: header aliases, kinds inferred or chosen, clear errors."""

import numpy as np
import pytest

from core.probes import ProbeTaskError, read_task_csv


def _csv(header: str, rows: list[str], delimiter: str = ",") -> bytes:
    return "\n".join([header, *rows]).replace(",", delimiter).encode()


def _grid(n: int = 60) -> list[tuple[float, float]]:
    rng = np.random.default_rng(0)
    return list(zip(rng.uniform(-170, 170, n).round(3), rng.uniform(-60, 60, n).round(3)))


def test_lat_lon_order_aliases_and_semicolons_read_as_lon_lat():
    rows = [f"{lat};{lon};{lat * 2 + 0.5}" for lon, lat in _grid()]
    task = read_task_csv("\n".join(["Latitude;Longitude;value", *rows]).encode(), name="mine")
    assert task.kind == "regression" and task.name == "mine" and len(task) == 60
    lon, lat = _grid()[0]
    assert task.lonlat[0].tolist() == [lon, lat] and task.target[0] == lat * 2 + 0.5


def test_kind_is_inferred_and_can_be_overridden(tmp_path):
    path = tmp_path / "classes.csv"
    path.write_bytes(_csv("lon,lat,target", [f"{lon},{lat},{i % 3}" for i, (lon, lat) in enumerate(_grid())]))
    task = read_task_csv(path)
    assert task.kind == "classification" and task.class_names == ("0", "1", "2") and task.name == "classes"
    assert read_task_csv(path, kind="regression").kind == "regression"
    words = _csv("lng,lat,biome", [f"{lon},{lat},{'wet' if i % 2 else 'dry'}" for i, (lon, lat) in enumerate(_grid())])
    assert read_task_csv(words).class_names == ("dry", "wet")
    with pytest.raises(ProbeTaskError, match="must be numeric, found 'dry'"):
        read_task_csv(words, kind="regression")


def test_missing_columns_are_named():
    with pytest.raises(ProbeTaskError, match="missing a latitude column .*header has: lon, value"):
        read_task_csv(_csv("lon,value", ["1,2"]))
    with pytest.raises(ProbeTaskError, match="missing a target column: name it 'target' or choose one of a, b"):
        read_task_csv(_csv("lon,lat,a,b", ["1,2,3,4"]))
    with pytest.raises(ProbeTaskError, match="missing the target column 'c'"):
        read_task_csv(_csv("lon,lat,a,b", ["1,2,3,4"]), target_column="c")


def test_too_few_points_and_constant_targets_are_refused():
    few = _csv("lon,lat,target", [f"{lon},{lat},{lat}" for lon, lat in _grid(10)])
    with pytest.raises(ProbeTaskError, match="has 10 point\\(s\\) with a target; a probe needs at least 50"):
        read_task_csv(few)
    constant = _csv("lon,lat,target", [f"{lon},{lat},7" for lon, lat in _grid()])
    with pytest.raises(ProbeTaskError, match="constant"):
        read_task_csv(constant)


def test_bad_coordinates_name_the_line():
    rows = [f"{lon},{lat},{lat}" for lon, lat in _grid()]
    rows[4] = "10,95,1"
    with pytest.raises(ProbeTaskError, match="line 6: .*latitude"):
        read_task_csv(_csv("lon,lat,target", rows))
    rows[4] = "east,5,1"
    with pytest.raises(ProbeTaskError, match="line 6: longitude 'east' is not a number"):
        read_task_csv(_csv("lon,lat,target", rows))
    with pytest.raises(ProbeTaskError, match="not UTF-8"):
        read_task_csv(b"lon,lat,target\n\xff\xfe,1,2\n")

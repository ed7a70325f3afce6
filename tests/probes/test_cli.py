"""``python -m core probe``: the table on stdout, probes.md/.csv written, clear errors."""

import numpy as np

from core.__main__ import main
from core.coords import sample_sphere


def _task_csv(path, n=300):
    lonlat = sample_sphere(n, np.random.default_rng(5))
    rows = [f"{lat:.5f},{lon:.5f},{np.sin(np.radians(lat)):.6f}" for lon, lat in lonlat]
    path.write_text("\n".join(["latitude,longitude,target", *rows]))
    return path


def test_probe_prints_and_writes_the_table(tmp_path, capsys):
    csv = _task_csv(tmp_path / "sinlat.csv")
    assert main(["probe", "--embedding", "xyz", "--embedding", "lonlat", "--task", str(csv), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "| embedding | sinlat (R²) |" in out and "| xyz | 1.000 ± 0.000 |" in out and "knn (xyz)" in out
    assert (tmp_path / "out" / "probes.md").read_text() in out
    lines = (tmp_path / "out" / "probes.csv").read_text().splitlines()
    assert lines[0].startswith("task,kind,embedding,method,dim,metric,mean,std,folds") and len(lines) == 1 + 3 * 2


def test_probe_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,value\n1,2\n")
    assert main(["probe", "--embedding", "xyz", "--task", str(bad)]) == 2
    assert "missing a latitude column" in capsys.readouterr().err
    assert main(["probe", "--embedding", "pixels", "--task", str(_task_csv(tmp_path / "ok.csv"))]) == 2
    assert "unknown embedding" in capsys.readouterr().err
    assert main(["probe", "--task", "ndvi"]) == 2
    assert "unknown probe task 'ndvi'" in capsys.readouterr().err

"""The Probe page in AppTest: run probes on an embedded task and an uploaded CSV, charts and the residual map."""

import numpy as np
import pytest

from core.coords import sample_sphere
from geovis import probe_view
from tests.app.apptest import APP, ok
from streamlit.testing.v1 import AppTest

PAGE = "app_pages/probe.py"


@pytest.fixture(autouse=True)
def empty_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))


def open_page() -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=180).run())
    return ok(at.switch_page(PAGE).run())


def _csv(n: int = 200) -> bytes:
    lonlat = sample_sphere(n, np.random.default_rng(7))
    rows = [f"{lon:.4f},{lat:.4f},{np.sin(np.radians(lat)):.5f}" for lon, lat in lonlat]
    return "\n".join(["lon,lat,target", *rows]).encode()


def test_probes_run_and_show_the_table_charts_and_residual_map():
    at = open_page()
    assert at.info[0].value.startswith("Choose tasks and embeddings")
    at.multiselect(key="probe_tasks").set_value(["coast_distance"])
    at.multiselect(key="probe_embeddings").set_value(["xyz", "encoding:spherical_harmonics:degree=10"])
    at.select_slider(key="probe_points").set_value(500)
    at.file_uploader(key="probe_upload").set_value(("sinlat.csv", _csv(), "text/csv"))
    ok(at.run())
    ok(at.button(key="probe_run").click().run())
    assert not at.error
    report = at.session_state[probe_view.REPORT_KEY]
    assert list(report.tasks) == ["coast_distance", "sinlat.csv"]
    assert report.result("sinlat.csv", "xyz").mean() > 0.99
    table = at.dataframe[0].value
    assert list(table.index) == ["xyz", "encoding:spherical_harmonics:degree=10", "knn (xyz)"]
    assert len(at.get("plotly_chart")) == 2, "one bar chart per task"
    assert len(at.get("component_instance")) == 1, "the residual map is drawn"
    assert any("red too high" in caption.value for caption in at.caption)
    assert len(at.get("download_button")) == 2 + 3, "the table (Markdown, CSV) and the residuals (GeoPackage, GeoParquet, GeoJSON)"

    ok(at.selectbox(key="probe_map_task").set_value("sinlat.csv").run())
    ok(at.selectbox(key="probe_map_embedding").set_value("knn (xyz)").run())
    assert len(at.get("component_instance")) == 1


def test_bad_upload_and_bad_embedding_show_clear_errors():
    at = open_page()
    at.file_uploader(key="probe_upload").set_value(("bad.csv", b"lon,value\n1,2\n", "text/csv"))
    ok(at.run())
    assert "the header lacks column(s) lat (or latitude)" in at.error[0].value
    at.file_uploader(key="probe_upload").set_value(("few.csv", b"lon,lat,target\n1,2,3\n2,3,4\n", "text/csv"))
    ok(at.run())
    assert "a probe needs at least 50" in at.error[0].value
    at.file_uploader(key="probe_upload").set_value(None)
    at.text_input(key="probe_extra").input("encoding:nope")
    ok(at.run())
    assert "unknown encoding 'nope'" in at.error[0].value

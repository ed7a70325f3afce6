"""The Encoder inspector page in AppTest: a bare encoding at a clicked point (kernel maps, resolution, basis
functions), typed coordinates (wrapped or refused), two encoders side by side with a trained run, and the
messages for a damaged run and a bad parameter."""

import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.train.checkpoint import MODEL_FILE
from core.train.records import BEST
from geovis import inspector_state as state
from tests.app.apptest import APP, ok, plotly_array

PAGE = "app_pages/inspector.py"
SH10_LABEL = "spherical_harmonics (degree=10)"


def open_page() -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    return ok(at.switch_page(PAGE).run())


def click(at: AppTest, lonlat: tuple[float, float]) -> AppTest:
    at.session_state[state.MAP_KEY] = {"last_clicked": {"lat": lonlat[1], "lng": lonlat[0]}}
    return ok(at.run())


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    return [figure["layout"]["title"]["text"] for figure in figures(at)]


def metrics(at: AppTest) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for metric in at.metric:
        values.setdefault(metric.label, []).append(metric.value)
    return values


@pytest.fixture
def no_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))


def test_a_bare_encoding_at_a_clicked_point_shows_its_kernels_resolution_and_basis_functions(no_runs):
    at = open_page()
    assert not at.error and at.info[0].value.startswith("Click the map")
    assert len(titles(at)) == 1 and titles(at)[0].startswith(f"{SH10_LABEL}: PC 1 ("), "the basis map needs no click"
    assert len(at.get("component_instance")) == 1, "the map is drawn"

    click(at, (179.9, 10.0))
    assert at.subheader[0].value.replace("\\", "") == SH10_LABEL
    assert metrics(at) == {"½-similarity distance north–south": ["1,417 km"], "½-similarity distance east–west": ["1,417 km"]}
    globe, local, resolution, basis = figures(at)
    assert globe["layout"]["title"]["text"].startswith("Kernel cos(e(x₀), e(x)) over the globe")
    kernel = plotly_array(globe["data"][0]["z"])
    assert kernel.shape == (91, 181) and 0.95 < kernel.max() <= 1.0
    np.testing.assert_array_equal(kernel[:, 0], kernel[:, -1])  # the globe joins at the antimeridian
    assert local["layout"]["title"]["text"] == "Kernel within 1,000 km of x₀"
    assert plotly_array(local["data"][0]["z"])[20, 20] == 1.0, "the kernel is 1 at x₀"
    names = [trace["name"] for trace in resolution["data"]]
    assert f"{SH10_LABEL} · north–south" in names and f"{SH10_LABEL} · east–west at x₀" in names
    assert basis["layout"]["title"]["text"].startswith(f"{SH10_LABEL}: PC 1 (")

    ok(at.radio(key="inspector_basis_mode").set_value("dimension").run())
    ok(at.number_input(key="inspector_dimension").set_value(3).run())
    assert titles(at)[-1] == f"{SH10_LABEL}: dimension 3 of 100 (unit-normalised)"


def test_typed_coordinates_wrap_the_longitude_and_refuse_a_latitude_out_of_range(no_runs):
    at = open_page()
    at.number_input(key="inspector_lat").set_value(95.0)
    ok(at.button[0].click().run())
    assert at.error[0].value.startswith("Those coordinates cannot be inspected: latitude 95° is outside")
    assert at.info[0].value.startswith("Click the map"), "no point was set"
    at.number_input(key="inspector_lat").set_value(-89.99)
    at.number_input(key="inspector_lon").set_value(190.0)
    ok(at.button[0].click().run())
    assert not at.error and "x₀ at latitude -89.9900, longitude -170.0000." in [c.value for c in at.caption]
    assert len(figures(at)) == 4


def test_two_encoders_side_by_side_at_the_same_point(runs):
    at = open_page()
    ok(at.toggle(key="inspector_compare").set_value(True).run())
    ok(at.radio(key="inspector_b_source").set_value("run").run())
    click(at, (2.35, 48.85))
    run_label = f"run {runs.location.name}"
    assert [s.value.replace("\\", "") for s in at.subheader[:2]] == [SH10_LABEL, run_label]
    assert all(len(values) == 2 for values in metrics(at).values())
    assert len(figures(at)) == 7, "globe and zoomed kernels for each, one resolution chart, a basis map for each"
    resolution = next(figure for figure in figures(at) if figure["layout"]["title"]["text"].startswith("Distance at which"))
    legend = {trace["name"] for trace in resolution["data"]}
    assert {f"{SH10_LABEL} · north–south", f"{run_label} · north–south"} <= legend
    local_run = next(f for f in figures(at)[2:] if f["layout"]["title"]["text"].startswith("Kernel within"))
    assert plotly_array(local_run["data"][0]["z"])[20, 20] == 1.0

    ok(at.radio(key="inspector_basis_mode").set_value("dimension").run())
    ok(at.number_input(key="inspector_dimension").set_value(150).run())
    assert [info.value.replace("\\", "") for info in at.info] == [f"{SH10_LABEL} has only 100 dimensions."]
    assert titles(at)[-1].startswith(f"{run_label}: dimension 150 of ")


def test_a_damaged_run_and_a_bad_parameter_give_messages_not_tracebacks(runs, tmp_path, monkeypatch):
    damaged = shutil.copytree(runs.location, tmp_path / "damaged-runs" / runs.location.name)
    (damaged / "checkpoints" / BEST / MODEL_FILE).write_bytes(b"not safetensors")
    monkeypatch.setenv("GEOCSP_RUNS", str(damaged.parent))
    at = open_page()
    ok(at.number_input(key="inspector_a_spherical_harmonics_degree").set_value(0).run())
    assert "degree" in at.error[0].value and "must be in 1..60, got 0" in at.error[0].value
    ok(at.radio(key="inspector_a_source").set_value("run").run())
    assert at.error[0].value.startswith("The encoder could not be inspected") and "unreadable" in at.error[0].value

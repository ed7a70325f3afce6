"""First open in AppTest: Predict, Compare and the Embedding map choose the starter runs setup built (beside older
user runs), a run finished later becomes the default, and without any run each page names the command that builds
the starters."""

import os

import pytest
from streamlit.testing.v1 import AppTest

from core.workflows.starter import BUILD_COMMAND, build_starters
from geovis import embedding_layers as layers
from tests.app.apptest import APP, ok, open_page
from tests.workflows.test_starter import TINY_SET


@pytest.fixture
def starters(runs):
    """The tiny user runs, then the starter runs built in the same runs folder (once per module: later calls skip)."""
    build_starters(runs.location.parent, TINY_SET)
    return runs


def by_label(elements, label: str):
    return next(element for element in elements if element.label == label)


def chosen_names(at: AppTest, *keys: str) -> list[str]:
    return [at.selectbox(key=key).value.name for key in keys]


def open_embedding_map() -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    at.session_state[layers.RESOLUTION_KEY] = 1
    return ok(at.switch_page("app_pages/embedding_map.py").run())


def test_the_pages_choose_the_starter_runs_and_predict_answers_a_click(starters):
    at = open_page("app_pages/predict.py")
    assert chosen_names(at, "predict_location_run", "predict_image_run") == ["starter-finetune", "starter-image-classifier"]
    at.session_state["predict_map"] = {"last_clicked": {"lat": 48.85, "lng": 2.35}}
    ok(at.run())
    titles = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert any("P(y | x), from the location" in spec for spec in titles) and not at.error

    at = open_page("app_pages/compare.py")
    assert chosen_names(at, "compare_location_run") == ["starter-finetune"] and not at.error

    at = open_embedding_map()
    assert by_label(at.radio, "Encoder source").value == "run"
    assert by_label(at.selectbox, "Run").value.name == "starter-pretrain", "the pre-trained encoder, not the fine-tuned one"
    assert not at.error


def test_a_run_finished_after_the_starters_becomes_the_default(starters):
    metrics = starters.location / "metrics.json"
    finished = metrics.stat().st_mtime
    later = (starters.location.parent / "starter-image-classifier" / "metrics.json").stat().st_mtime + 60
    os.utime(metrics, (later, later))
    try:
        at = open_page("app_pages/predict.py")
        assert chosen_names(at, "predict_location_run") == [starters.location.name]
        assert chosen_names(at, "predict_image_run") == ["starter-image-classifier"], "still the last image model finished"
    finally:
        os.utime(metrics, (finished, finished))


def test_without_runs_each_page_names_the_command_that_builds_the_starters(tmp_path, monkeypatch, runs):
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "empty"))
    for page in ("app_pages/predict.py", "app_pages/compare.py"):
        at = open_page(page)
        assert any(BUILD_COMMAND in info.value for info in at.info) and not at.error, page
    at = open_embedding_map()
    assert by_label(at.radio, "Encoder source").value == "untrained"
    assert any(BUILD_COMMAND in caption.value for caption in at.caption) and not at.error

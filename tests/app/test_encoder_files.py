"""A trained encoder as files in the app: the Pre-train run card offers "Download the encoder" (a zipped model
folder that loads back to the run's embeddings), and an exported model folder under the runs or data folder is a
source on the Embedding map and the Encoder inspector."""

import io
import zipfile

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.location import load_encoder
from core.location.export import export_encoder
from core.location.loading import embed_lonlat, run_location_encoder
from core.location.model_folder import find_model_folders
from core.workflows.encoder_download import encoder_zip
from geovis import embedding_layers as layers
from geovis import inspector_state
from tests.app.apptest import APP, ok

POINTS = np.array([[2.35, 48.85], [-179.9, -89.9], [179.99, 89.9], [36.8, -1.3]])


def open_page(page: str) -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    at.session_state[layers.RESOLUTION_KEY] = 1
    return ok(at.switch_page(page).run())


@pytest.fixture
def model_folder(runs):
    """The tiny location run exported (weights, config and card only) into ``models/tiny`` under the runs folder."""
    folder = runs.location.parent / "models" / "tiny"
    if not folder.exists():
        export_encoder(runs.location, folder, formats=())
    return folder


def test_the_run_card_downloads_a_zipped_model_folder_that_loads_back_to_the_runs_embeddings(runs, tmp_path):
    at = open_page("app_pages/pretrain.py")
    buttons = [b for b in at.get("download_button") if b.proto.label == "Download the encoder"]
    assert len(buttons) == 1, "one trained run with a location encoder, one button (the image classifier has none)"

    archive = zipfile.ZipFile(io.BytesIO(encoder_zip(runs.location, "tiny-encoder")))
    names = set(archive.namelist())
    expected = {"config.json", "encoder.safetensors", "MODEL_CARD.md", "encoder.onnx", "encoder.pt"}
    assert names == {f"tiny-encoder/{name}" for name in expected}
    archive.extractall(tmp_path)
    loaded = load_encoder(tmp_path / "tiny-encoder")
    np.testing.assert_allclose(embed_lonlat(loaded, POINTS), embed_lonlat(run_location_encoder(runs.location), POINTS), atol=1e-6)


def test_model_folders_are_found_under_the_roots_and_nothing_else_is(runs, model_folder, tmp_path):
    (tmp_path / "look-alike").mkdir()
    (tmp_path / "look-alike" / "config.json").write_text('{"format": "something else"}')
    (tmp_path / ".hidden" / "x").mkdir(parents=True)
    assert find_model_folders([runs.location.parent, tmp_path]) == [model_folder.resolve()]


def test_a_model_folder_is_an_encoder_source_on_the_embedding_map(model_folder):
    at = open_page("app_pages/embedding_map.py")
    ok(next(r for r in at.radio if r.label == "Encoder source").set_value("model").run())
    assert not at.error and not at.exception
    folders = next(s for s in at.selectbox if s.label == "Model folder")
    assert folders.options == [f"{model_folder.parent.parent.name}/models/tiny"]
    assert next(m for m in at.metric if m.label == "Hexagons").value == "842"
    assert len(at.get("component_instance")) == 1, "the map is drawn"


def test_a_model_folder_is_an_encoder_source_in_the_inspector_and_no_folder_says_how_to_make_one(model_folder, runs):
    at = open_page("app_pages/inspector.py")
    ok(at.radio(key="inspector_a_source").set_value("model").run())
    at.session_state[inspector_state.MAP_KEY] = {"last_clicked": {"lat": 48.85, "lng": 2.35}}
    ok(at.run())
    assert not at.error and at.subheader[0].value.replace("\\", "") == "model tiny"
    assert len(at.get("plotly_chart")) == 4

    for path in sorted(model_folder.iterdir()):
        path.unlink()
    model_folder.rmdir()
    st.cache_data.clear()  # the folder list is re-scanned every 10 s
    at = open_page("app_pages/inspector.py")
    ok(at.radio(key="inspector_a_source").set_value("model").run())
    assert any("No exported model folder" in info.value for info in at.info)


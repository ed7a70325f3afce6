"""The Embedding map page in AppTest (encoders, regions, colourings, hex clicks through session state) and its
geovis logic (the hex layer's GeoJSON and HTML)."""

import json

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.workflows import embedding_cache
from core.workflows import embedding_map as em
from core.location import loading as encoders
from core.hexgrid import cells_of
from core.location import geoclip_status
from core.train.config import RunConfig
from core.regions import REGIONS, BBox
from geovis import embedding_layers as layers
from geovis import region_picker
from tests.app.apptest import APP, ok

PAGE = "app_pages/embedding_map.py"
PARIS = (2.35, 48.85)


@pytest.fixture(autouse=True)
def empty_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))


def open_page(resolution: int = 1) -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    at.session_state[layers.RESOLUTION_KEY] = resolution
    return ok(at.switch_page(PAGE).run())


def click(at: AppTest, lonlat: tuple[float, float]) -> AppTest:
    at.session_state[layers.MAP_KEY] = {"last_clicked": {"lat": lonlat[1], "lng": lonlat[0]}}
    return ok(at.run())


def by_label(elements, label: str):
    return next(element for element in elements if element.label == label)


def test_an_untrained_encoder_at_resolution_1_renders_and_a_hex_click_shows_cluster_similar_hexes_and_classes(monkeypatch):
    embedded = []
    embed_cells = em.embed_cells
    monkeypatch.setattr(em, "embed_cells", lambda *args, **kwargs: embedded.append(1) or embed_cells(*args, **kwargs))
    at = open_page(resolution=1)
    assert not at.error and by_label(at.radio, "Encoder source").value == "untrained"
    assert by_label(at.metric, "Hexagons").value == "842"
    assert len(at.get("component_instance")) == 1, "the map is drawn"
    assert at.info[0].value.startswith("Click a hexagon")

    click(at, PARIS)
    cell = str(cells_of([PARIS], 1)[0])
    assert at.subheader[0].value == f"Hex {cell}"
    cells = em.region_cells(1)
    embeddings = embed_cells(encoders.load_choice(encoders.EncoderChoice("untrained", "theory")), cells)
    expected = em.kmeans_clusters(embeddings, 8)[cells.index(cell)]
    assert by_label(at.metric, "Cluster").value == f"{expected} of 8"
    similar = at.dataframe[0].value
    assert len(similar) == 12 and similar["hex"].iloc[0] == cell and similar["cosine similarity"].iloc[0] == pytest.approx(1.0)
    assert similar["hex"].tolist() == [cells[i] for i in em.most_similar(embeddings, cells.index(cell), 12)[0]]
    chart = at.get("plotly_chart")
    assert len(chart) == 1 and "Samples per class" in chart[0].proto.spec

    ok(by_label(at.slider, "Similar hexes").set_value(3).run())
    assert len(at.dataframe[0].value) == 3
    assert len(embedded) == 1, "clicks and the similar-hexes slider reuse the cached embeddings"


def test_pca_colouring_and_a_click_outside_the_region():
    at = open_page(resolution=1)
    ok(by_label(at.radio, "Colouring").set_value("pca").run())
    assert not [s for s in at.slider if s.label == "Clusters k"]
    click(at, PARIS)
    assert "PCA colour" in at.markdown[-1].value and not [m for m in at.metric if m.label == "Cluster"]
    ok(by_label(at.selectbox, "Region").set_value("South America").run())
    assert at.info[0].value.startswith("That click is outside")


def test_a_custom_box_across_the_antimeridian_and_a_bad_box():
    at = open_page(resolution=1)
    ok(by_label(at.selectbox, "Region").set_value("Custom box").run())  # default: 150° → -150°
    assert 0 < int(by_label(at.metric, "Hexagons").value) < 842
    ok(by_label(at.number_input, "South").set_value(60.0).run())
    assert "cannot be used" in at.error[0].value


def test_the_current_view_becomes_the_region_when_asked_and_not_before():
    at = open_page(resolution=1)
    ok(by_label(at.selectbox, "Region").set_value("Current view").run())
    assert "press the button under it" in at.info[0].value and by_label(at.metric, "Hexagons").value == "842"
    ok(at.button[0].click().run())  # the map has not reported a view yet
    assert "has not reported its view" in at.warning[0].value and by_label(at.metric, "Hexagons").value == "842"
    # Panned east across the antimeridian: Leaflet reports unwrapped longitudes 150 → 230.
    at.session_state[layers.MAP_KEY] = {
        "last_clicked": None, "bounds": {"_southWest": {"lat": -40.0, "lng": 150.0}, "_northEast": {"lat": 40.0, "lng": 230.0}},
    }
    ok(next(b for b in at.button if b.label == "Embed this view").click().run())
    hexes = int(by_label(at.metric, "Hexagons").value)
    assert 0 < hexes < 842 and at.session_state[region_picker.view_key(layers.REGION_KEY)] == BBox(150.0, -40.0, -130.0, 40.0)
    assert any(c.value == "Region: the map view 150.0°E → 130.0°W, 40.0°S – 40.0°N" for c in at.caption)
    at.session_state[layers.MAP_KEY] = {  # panning again does not change the region until the button is pressed
        "last_clicked": None, "bounds": {"_southWest": {"lat": 30.0, "lng": -10.0}, "_northEast": {"lat": 60.0, "lng": 30.0}},
    }
    ok(at.run())
    assert int(by_label(at.metric, "Hexagons").value) == hexes


def test_trained_run_source_without_runs_and_with_a_broken_run(tmp_path):
    at = open_page(resolution=1)
    ok(by_label(at.radio, "Encoder source").set_value("run").run())
    assert "No trained run yet" in at.info[0].value
    broken = tmp_path / "runs" / "20260101-000000-pretrain-abcdef"
    (broken / "checkpoints" / "best").mkdir(parents=True)
    (broken / "config.yaml").write_text(RunConfig().to_yaml())
    (broken / "metrics.json").write_text(json.dumps({"stage": "pretrain", "status": "completed"}))
    ok(at.run())
    assert "could not be computed" in at.error[0].value and "unreadable" in at.error[0].value


def test_pretrained_geoclip_is_offered_or_says_why_not_and_after_a_restart_its_grid_comes_from_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_cache, "cache_root", lambda: tmp_path / "cache")  # not the machine's cache
    at = ok(by_label(open_page(resolution=0).radio, "Encoder source").set_value("pretrained").run())
    available, reason = geoclip_status()
    if not available:
        assert reason in at.warning[0].value
        return
    assert by_label(at.metric, "Embedding size").value == "512" and by_label(at.metric, "Hexagons").value == "122"
    assert len(list((tmp_path / "cache" / "embedding_map").glob("geoclip-res0-*.npy"))) == 1
    st.cache_resource.clear()  # a server restart: nothing in memory
    st.cache_data.clear()
    at = open_page(resolution=0)  # an untrained encoder first
    embedded = []
    monkeypatch.setattr(em, "embed_cells", lambda *args, **kwargs: embedded.append(1))
    at = ok(by_label(at.radio, "Encoder source").set_value("pretrained").run())
    assert not embedded and by_label(at.metric, "Hexagons").value == "122", "the embeddings were read from disk"


def test_the_embedding_map_html_is_deterministic_with_unique_element_ids():
    cells = em.region_cells(0)
    embedded = layers.Embedded(tuple(cells), np.eye(len(cells), 8, dtype=np.float32))
    view = layers.embedding_view(embedded, layers.Colouring("kmeans", 4))
    maps = [layers.embedding_folium_map(view, REGIONS["Europe"], "bluemarble") for _ in range(2)]
    ids = [element._id for element in _elements(maps[0])]
    assert len(ids) == len(set(ids)), "every element has its own id (st_folium names variables by id)"
    rendered = [m.get_root().render() for m in maps]
    assert rendered[0] == rendered[1] and "L.geoJson(" in rendered[0]
    assert json.loads(view.geojson)["features"][0]["properties"]["t"].startswith("Cluster ")


def _elements(element):
    yield element
    for child in element._children.values():
        yield from _elements(child)

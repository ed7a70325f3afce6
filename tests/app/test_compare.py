"""The Compare page in AppTest: typed coordinates, a city looked up offline and a map click give a grouped
chart of P(y|x); out-of-range input gives a clear message; the class map colours every H3 hexagon."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.workflows.predict import Predictor
from tests.app.apptest import ok, open_page

PAGE = "app_pages/compare.py"
MAP_KEY = "compare_map"


def open_compare() -> AppTest:
    return open_page(PAGE)


def grouped_chart(at: AppTest) -> dict:
    [chart] = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def map_args(at: AppTest) -> dict:
    """What st_folium sends the browser: the map's Leaflet ``script`` and the pins' ``feature_group``."""
    [component] = at.get("component_instance")
    return json.loads(component.proto.json_args)


def test_two_typed_locations_and_a_city_give_a_grouped_chart(runs):
    at = ok(open_compare().radio(key="compare_count").set_value(3).run())
    at.number_input(key="compare_lat_0").set_value(64.0)
    at.number_input(key="compare_lon_0").set_value(-20.0)
    at.radio(key="compare_source_2").set_value("City")
    at = ok(at.run())
    assert any("Type a city name" in i.value for i in at.info)
    at = ok(at.text_input(key="compare_city_2").set_value("nairobi").run())
    assert not at.error
    figure = grouped_chart(at)
    assert [bar["name"] for bar in figure["data"]] == ["1 · 64.00, -20.00", "2 · -1.28, 36.82", "3 · Nairobi"]
    predictor = Predictor(runs.location, data=runs.data)
    expected = predictor.location_probs([[-20.0, 64.0], [36.8167, -1.2833], [36.81667, -1.28333]]).numpy()
    classes = [runs.data.class_names.index(name) for name in figure["data"][0]["x"]]
    for bar, probs in zip(figure["data"], expected):
        assert bar["y"] == pytest.approx(probs[classes].tolist(), abs=1e-5)
    assert set(figure["data"][0]["x"]) >= {runs.data.class_names[int(probs.argmax())] for probs in expected}
    assert "3 · Nairobi" in map_args(at)["feature_group"], "each location is pinned on the class map"


def test_bad_input_gives_a_clear_message_and_no_chart_below_two_locations(runs):
    at = open_compare()
    at = ok(at.number_input(key="compare_lat_1").set_value(95.0).run())
    [error] = at.error
    assert error.value == "Location 2: latitude 95 is outside [-90, 90]"
    assert not at.get("plotly_chart") and any("at least two valid locations" in i.value for i in at.info)
    at.number_input(key="compare_lat_1").set_value(10.0)
    at = ok(at.number_input(key="compare_lon_1").set_value(200.0).run())
    assert at.error[0].value == "Location 2: longitude 200 is outside [-180, 180]"
    at = ok(at.radio(key="compare_source_1").set_value("City").run())
    at = ok(at.text_input(key="compare_city_1").set_value("Qwxzvtplk").run())
    assert "No place named “Qwxzvtplk”" in at.warning[0].value and not at.error


def test_a_map_click_places_the_chosen_location(runs):
    at = ok(open_compare().radio(key="compare_source_1").set_value("Map click").run())
    assert at.radio(key="compare_click_target").options == ["Location 2"]
    assert not at.get("plotly_chart")
    at.session_state[MAP_KEY] = {"last_clicked": {"lat": -30.0, "lng": 140.0}}
    at = ok(at.run())
    assert [bar["name"] for bar in grouped_chart(at)["data"]] == ["1 · 48.85, 2.35", "2 · click -30.00, 140.00"]


def test_the_class_map_colours_every_hexagon_by_the_chosen_class(runs):
    at = ok(open_compare().selectbox(key="compare_class").set_value(3).run())
    name = runs.data.class_names[3]
    script = map_args(at)["script"]
    assert script.count('"properties":{"c":') == 842 and f"P({name} | x) = " in script
    assert any(f"Colour: P({name} | x)" in c.value for c in at.caption)
    at = ok(at.radio(key="compare_resolution").set_value(2).run())
    assert map_args(at)["script"].count('"properties":{"c":') == 5882

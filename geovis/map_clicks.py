"""Map clicks sent to the app at once, not after ``st_folium``'s 250 ms debounce.

``st_folium``'s frontend (streamlit-folium 0.27.4) reports every map event through one debounced function, so
a click reaches the app 250 ms after it happened: on the Predict page that was most of a click's time. The
:class:`InstantClicks` element adds a click handler to the map that sends the same value (``{"last_clicked":
{"lat", "lng"}}``) right away through the component's Streamlit API, and records it as the component's
last sent value, so the debounced report 250 ms later finds nothing new and sends nothing.

It uses two globals of that frontend, ``window.Streamlit`` and ``window.__GLOBAL_DATA__`` (``previous_data``,
``returned_objects``); a test checks that the installed frontend still defines them. Where they are missing,
or the map returns more than ``last_clicked``, the handler does nothing and the debounced report still comes.
"""

from __future__ import annotations

from branca.element import MacroElement
from jinja2 import Template

#: What a map with :class:`InstantClicks` (``geovis.maps.base_map(instant_clicks=True)``) is drawn with:
#: ``st_folium(..., returned_objects=RETURNED_OBJECTS)``.
RETURNED_OBJECTS = ["last_clicked"]


class InstantClicks(MacroElement):
    """A Leaflet click handler that sends ``{"last_clicked": latlng}`` to the app without waiting."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.on('click', function (event) {"
        "  var state = window.__GLOBAL_DATA__, streamlit = window.Streamlit;"
        "  if (!state || !streamlit || !state.returned_objects || state.returned_objects.join() !== 'last_clicked') { return; }"
        "  var value = {last_clicked: event.latlng};"
        "  state.lat_lng_clicked = event.latlng;"
        "  state.previous_data = value;"
        "  streamlit.setComponentValue(value);"
        "});"
        "{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "InstantClicks"


"""Browse's "Where would the model put this sample?": a toggle that loads the geolocation section only when it is
switched on, so Browse itself stays free of torch and the models (a deep link to Browse does not wait for them).

The section's modules are imported under the app's import lock (:mod:`geovis.imports`), like a page's own.
"""

from __future__ import annotations

import streamlit as st

from core.data.base import GeoImageDataset
from geovis import imports
from geovis.markdown_text import escape_markdown

SECTION = "geovis.geolocation"


def toggle_section(dataset: GeoImageDataset, index: int) -> None:
    """The toggle and, when it is on, :func:`geovis.geolocation.sample_section` for record ``index``."""
    if not st.toggle("Where would the model put this sample?", key="browse_geolocate"):
        return
    failures = imports.import_modules([SECTION])
    if failures:
        st.error(f"Geolocation is unavailable: {escape_markdown(failures[SECTION])}")
        return
    from geovis import geolocation  # imported above, under the lock

    geolocation.sample_section(dataset, index)

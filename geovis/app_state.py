"""The app's active dataset, loaded once per server process and shared by every page and session."""

from __future__ import annotations

import streamlit as st

from core.data.base import GeoImageDataset
from core.data.default_dataset import load_default_dataset


@st.cache_resource(show_spinner=False)
def active_dataset() -> GeoImageDataset:
    """The embedded default dataset; on the first call it may be built (under a minute) behind a progress bar.

    Errors propagate (and are not cached): pages catch them and show ``st.error``.
    """
    bar = st.progress(0.0, text="Preparing the embedded default dataset (first run only)…")
    dataset = load_default_dataset(
        progress=lambda fraction, message: bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)
    )
    bar.empty()
    return dataset

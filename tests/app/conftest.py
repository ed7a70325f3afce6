"""App-test fixtures: every test starts and ends with empty Streamlit caches (they live per process)."""

import pytest
import streamlit as st

from core.train import runner
from geovis import app_state
from tests.app.test_app import tiny_dataset
from tests.workflows.test_predict import TinyRuns, tiny_runs  # noqa: F401 — a fixture


@pytest.fixture(autouse=True)
def fresh_caches(built_assets):
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def runs(tiny_runs, monkeypatch) -> TinyRuns:  # noqa: F811
    """The tiny runs as the app's runs folder; runs load their (in-memory) tiny data; Overview shows a tiny dataset."""
    monkeypatch.setenv("GEOCSP_RUNS", str(tiny_runs.location.parent))
    monkeypatch.setattr(runner, "load_feature_data", lambda config, progress=None: tiny_runs.data)
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(50))
    return tiny_runs

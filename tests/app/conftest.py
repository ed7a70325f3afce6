"""App-test fixtures: every test starts and ends with empty Streamlit caches (they live per process)."""

import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def fresh_caches(built_assets):
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()

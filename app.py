"""GeoCSP explorer: Streamlit entry point (``streamlit run app.py``). Pages live in ``app_pages/``."""

from pathlib import Path

import streamlit as st

from geovis.access_gate import require_access
from geovis.imports import import_script_dependencies

# An emoji icon: a ":material/...:" icon here would make the browser fetch a favicon from the web.
st.set_page_config(page_title="GeoCSP", page_icon="🌍", layout="wide")

#: (page file, title, icon); the first is the default page. The folder is not named ``pages/``: Streamlit
#: treats a ``pages/`` folder beside the entry script as an old-style multipage app and, until the first run
#: has called ``st.navigation``, shows its file names as the sidebar's navigation.
PAGES = [
    ("app_pages/overview.py", "Overview", ":material/public:"),
    ("app_pages/browse.py", "Browse", ":material/travel_explore:"),
    ("app_pages/pretrain.py", "Pre-train", ":material/model_training:"),
    ("app_pages/predict.py", "Predict", ":material/ads_click:"),
    ("app_pages/compare.py", "Compare", ":material/compare_arrows:"),
    ("app_pages/embedding_map.py", "Embedding map", ":material/hexagon:"),
    ("app_pages/inspector.py", "Encoder inspector", ":material/blur_on:"),
    ("app_pages/probe.py", "Probe", ":material/query_stats:"),
]

# A shared app lets no one further than its log-in (geovis.access_gate); a local one lets everyone in.
require_access()

page_files = {
    st.Page(path, title=title, icon=icon, default=index == 0): path for index, (path, title, icon) in enumerate(PAGES)
}
navigation = st.navigation(list(page_files))
# Sessions run in parallel threads: the page's modules are imported under one lock first (geovis.imports).
# (A process that re-runs this file outside `streamlit run`, e.g. a spawned worker, gets no page of ours.)
if (page_file := page_files.get(navigation)) is not None:
    import_script_dependencies(Path(__file__).parent / page_file)
navigation.run()

"""GeoCSP explorer: Streamlit entry point (``streamlit run app.py``). Pages live in ``pages/``."""

import streamlit as st

# An emoji icon: a ":material/...:" icon here would make the browser fetch a favicon from the web.
st.set_page_config(page_title="GeoCSP", page_icon="🌍", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", icon=":material/public:", default=True),
        st.Page("pages/browse.py", title="Browse", icon=":material/travel_explore:"),
        st.Page("pages/pretrain.py", title="Pre-train", icon=":material/model_training:"),
        st.Page("pages/predict.py", title="Predict", icon=":material/ads_click:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("pages/embedding_map.py", title="Embedding map", icon=":material/hexagon:"),
    ]
)
navigation.run()

"""GeoCSP core library: coordinates, data, encoders, objectives, training, fusion, evaluation.

Nothing in this package imports Streamlit.
"""

"""Helpers shared by the AppTest files."""

import base64
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def ok(at: AppTest) -> AppTest:
    """``at`` after a run, checked to have raised nothing."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(page: str) -> AppTest:
    """The app, then ``page``, both rendered without an exception."""
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    return ok(at.switch_page(page).run())


def plotly_array(value) -> np.ndarray:
    """A figure's array as plotly serialises it: a list, or a typed array {dtype, bdata (base64), shape}."""
    if isinstance(value, list):
        return np.array(value, dtype=float)
    shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
    return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape).astype(float)

"""Helpers shared by the AppTest files."""

from pathlib import Path

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

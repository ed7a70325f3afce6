"""The app's active dataset, shared by every page: the embedded default, or one the user registered.

The default dataset is loaded once per server process and shared by all sessions; a user dataset
(registered on the Overview page) lives in the session's state, so each browser session chooses its own.
Cached computations over a dataset are keyed on :func:`active_dataset_key` (its content fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.data.base import GeoImageDataset
from core.data.default_dataset import load_default_dataset
from core.data.errors import DatasetError
from core.data.loaders import load_user_dataset
from core.data.paths import data_root
from geovis import access_gate, imports, maps

_USER_DATASET = "geocsp_user_dataset"
#: What the model pages need (torch, encoders, the trainer): not imported by Overview, warmed up after it.
WARM_UP_MODULES = ("core.workflows.predict", "core.workflows.embedding_map", "core.workflows.jobs")
_SAVED_FORM = "geocsp_saved_form"
FORM_PREFIX = "pt_"
"""Widget keys starting with this (the Pre-train form's settings) keep their values across page switches."""


@dataclass(frozen=True)
class UserDataset:
    """A dataset the user registered: how it was loaded, the data, and its content fingerprint."""

    fmt: str
    path: str
    options: tuple[tuple[str, str], ...]
    dataset: GeoImageDataset
    key: str
    registered_by: str = ""  # a shared app's user who registered it (empty locally)


@st.cache_resource(show_spinner=False)
def default_dataset() -> GeoImageDataset:
    """The embedded default dataset; on the first call it may be built (under a minute) behind a progress bar.

    Errors propagate (and are not cached): pages catch them and show ``st.error``.
    """
    bar = st.progress(0.0, text="Preparing the embedded default dataset (first run only)…")
    dataset = load_default_dataset(
        progress=lambda fraction, message: bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)
    )
    bar.empty()
    return dataset


@st.cache_resource(show_spinner=False)
def _default_key() -> str:
    return "default:" + default_dataset().fingerprint()


def keep_form_values(prefix: str = FORM_PREFIX) -> None:
    """Keep the values of the widgets whose key starts with ``prefix`` while another page is shown.

    Streamlit drops a widget's value once a run does not draw it, so every page run copies the current
    values into a plain session dict and assigns them all back: a widget created later in the run takes
    its value from there, and the browser shows it (it does so only for values assigned in that run).
    Only input widgets may carry the prefix (a button's or chart's value cannot be assigned).
    """
    saved = st.session_state.setdefault(_SAVED_FORM, {})
    saved.update({key: st.session_state[key] for key in list(st.session_state) if isinstance(key, str) and key.startswith(prefix)})
    for key, value in saved.items():
        st.session_state[key] = value


@st.cache_resource(show_spinner=False)
def warm_up() -> None:
    """Import :data:`WARM_UP_MODULES` (torch and the models: about 1 s) once per server process, in the
    script thread at the end of Overview (which needs none of them), so neither the first page nor the
    first visit to a model page waits for them. Called after ``navigation.run()`` in app.py instead,
    a click on Browse's "Show this view" right after the first page sometimes did nothing (the log said
    "Couldn't find fragment"); at the end of Overview it did not. It imports under the app's one import
    lock (:mod:`geovis.imports`), so another session's page never sees a half-imported module. A failed
    import is left for the page that needs the module to report."""
    imports.import_modules(WARM_UP_MODULES)


def user_dataset() -> UserDataset | None:
    """The dataset this session registered, or None while the embedded default is active."""
    return st.session_state.get(_USER_DATASET)


def active_dataset() -> GeoImageDataset:
    """The session's registered dataset, else the embedded default (see :func:`default_dataset`)."""
    registered = user_dataset()
    return registered.dataset if registered is not None else default_dataset()


def active_dataset_key() -> str:
    """A key naming the active dataset's content, for caches of data derived from it."""
    registered = user_dataset()
    return registered.key if registered is not None else _default_key()


def require_active_dataset() -> GeoImageDataset:
    """The active dataset; when it cannot be loaded, an error message in the page and the page stops."""
    try:
        return active_dataset()
    except Exception as error:  # the user sees a message, never a traceback
        st.error(f"The embedded default dataset could not be loaded: {error}\n\nRun `make setup` and reload this page.")
        st.stop()


def register_dataset(fmt: str, path: str, **options: str) -> GeoImageDataset:
    """Load a user dataset (``path`` relative to the data root) and make it this session's active dataset.

    Raises :class:`DatasetError` with a message for the user when it cannot be used; the active
    dataset is then unchanged.
    """
    if not path.strip():
        raise DatasetError(data_root(), "enter the dataset's path, relative to this data folder")
    try:
        dataset = load_user_dataset(fmt, path.strip(), **options)
    except DatasetError:
        raise
    except Exception as error:  # a loader bug or an unforeseen file problem: still a message, not a traceback
        raise DatasetError(path, f"could not be loaded ({type(error).__name__}: {error})") from error
    if not dataset.has_location.any():
        raise DatasetError(dataset.root, f"none of its {len(dataset)} records has a location")
    given = tuple(sorted(options.items()))
    st.session_state[_USER_DATASET] = UserDataset(
        fmt, path.strip(), given, dataset, f"{fmt}:{dataset.fingerprint()}", access_gate.current_user().made_by
    )
    return dataset


def use_default_dataset() -> None:
    """Make the embedded default dataset this session's active dataset again."""
    st.session_state.pop(_USER_DATASET, None)


@st.cache_data(max_entries=8, show_spinner="Aggregating samples…")
def dataset_hexagons(dataset_key: str, color_by: str, _dataset: GeoImageDataset) -> tuple[list[str], list[str], list[str]]:
    """:func:`geovis.maps.sample_hexagons` of the dataset's located samples, cached per dataset content."""
    located = _dataset.has_location
    return maps.sample_hexagons(
        _dataset.lonlat[located], _dataset.labels[located], _dataset.class_names, maps.SAMPLE_HEX_RESOLUTION, color_by
    )

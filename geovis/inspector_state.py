"""What the Encoder inspector page keeps: the encoder pickers, the inspected point, and cached encoders,
world embeddings, principal components and resolution profiles.

Cost (``benchmarks/app_inspector.py``, 2 cores shared with a load average of 19, H3 resolution 2): a bare
encoding's world grid 0.2–1.3 s, a click 0.5–0.8 s, a profile 0.7–2.3 s; GeoCLIP's world grid is read from
its disk cache (:mod:`core.workflows.embedding_cache`) in 0.02 s (7 s the first time on a machine), a click 5.8 s (its
zoomed kernel and the resolution at x₀: ~2 200 points through three 1024-wide MLPs), a profile 13 s (9 200
points). Computing the globe kernel at every pixel on each click instead would cost GeoCLIP 19 s. The world
grid, its principal components and each profile are computed once per encoder (and meridian) and shared
between sessions; clicks recompute only what depends on x₀.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import streamlit as st

from core.location import loading as encoders
from core.workflows import encoder_inspector as ei
from core.location import ENCODINGS, LocationEncoder, geoclip_status
from geovis import encoder_files
from geovis.embedding_layers import trained_runs

MAP_KEY = "inspector_map"
POINT_KEY = "inspector_point"
SOURCE_LABELS: dict[ei.InspectedSource, str] = {
    "bare": "Bare encoding", "run": "Trained run", "model": "Model folder", "pretrained": "Pretrained GeoCLIP",
}
DEFAULT_BARE = "spherical_harmonics"
#: Principal components computed (and offered) per encoder.
COMPONENTS = 10
#: Largest value offered for an integer parameter other than a seed (sizes: scales, frequencies, centres).
MAX_INT_PARAM = 2048
#: Pixel spacing (degrees) of the globe maps for each offered H3 resolution of the world grid.
RASTER_STEPS = {2: 2.0, 3: 1.0}


@dataclass
class InspectedPoint:
    """Where the kernel is centred: the latest of the user's map clicks and typed coordinates."""

    lonlat: tuple[float, float] | None = None
    last_click: tuple[float, float] | None = None

    def follow_click(self, click: tuple[float, float] | None) -> None:
        """Move to a new (not the previous) map click."""
        if click is not None and click != self.last_click:
            self.last_click = click
            self.lonlat = click


def inspected_point() -> InspectedPoint:
    """This session's :class:`InspectedPoint`."""
    return st.session_state.setdefault(POINT_KEY, InspectedPoint())


def _bare_params(container, key: str, encoding: str) -> tuple[tuple[str, object], ...]:
    """Number inputs for the encoding's numeric params (defaults shown); the values, as hashable pairs."""
    values = []
    for name, param in ENCODINGS[encoding].params.items():
        if param.kind == "int":
            largest = None if name == "seed" else MAX_INT_PARAM
            number = container.number_input(name, value=int(param.default), max_value=largest, step=1, key=f"{key}_{encoding}_{name}", help=param.doc)
            values.append((name, int(number)))
        elif param.kind == "float":
            values.append((name, float(container.number_input(name, value=float(param.default), key=f"{key}_{encoding}_{name}", help=param.doc, format="%g"))))
    return tuple(values)


def pick_encoder(container, key: str, title: str) -> ei.InspectedEncoder | None:
    """The encoder widgets named ``key`` in ``container``; None (with a message there) when the chosen
    source has nothing to offer here."""
    container.markdown(f"**{title}**")
    runs = trained_runs()
    source = container.radio("Source", list(SOURCE_LABELS), format_func=SOURCE_LABELS.get, horizontal=True, key=f"{key}_source")
    if source == "run":
        if not runs:
            container.info("No trained run yet: pre-train or fine-tune one on the Pre-train page.")
            return None
        run = container.selectbox("Run", runs, format_func=lambda r: f"{r.name} · {r.stage}", key=f"{key}_run")
        encoder_files.encoder_download_button(container, run.run_dir, f"{key}_download")
        return ei.InspectedEncoder("run", str(run.run_dir))
    if source == "model":
        folder = encoder_files.pick_model_folder(container, f"{key}_model_folder")
        return None if folder is None else ei.InspectedEncoder("model", folder)
    if source == "pretrained":
        available, reason = geoclip_status()
        if not available:
            container.warning(f"GeoCLIP's pretrained encoder is not available here: {reason}")
            return None
        container.caption("GeoCLIP's released location encoder (512-d).")
        return ei.InspectedEncoder("pretrained", "geoclip")
    names = list(ei.BARE_ENCODINGS)
    encoding = container.selectbox(
        "Encoding", names, index=names.index(DEFAULT_BARE), key=f"{key}_encoding", help="the positional features alone, no network",
    )
    return ei.InspectedEncoder("bare", encoding, _bare_params(container.expander("Parameters"), key, encoding))


@st.cache_resource(max_entries=4, show_spinner="Loading the location encoder…")
def cached_encoder(choice: ei.InspectedEncoder) -> LocationEncoder:
    """:func:`core.workflows.encoder_inspector.load_inspected`, shared between sessions (errors are not cached)."""
    return ei.load_inspected(choice)


@st.cache_resource(max_entries=4, show_spinner="Embedding the world grid…")
def cached_world(choice: ei.InspectedEncoder, resolution: int) -> np.ndarray:
    """The world grid's embeddings (:func:`core.workflows.encoder_inspector.world_embeddings`), read-only."""
    embeddings = ei.world_embeddings(choice, resolution, lambda: cached_encoder(choice))
    embeddings.flags.writeable = False
    return embeddings


@st.cache_data(max_entries=8, show_spinner="Computing principal components…")
def cached_components(choice: ei.InspectedEncoder, resolution: int) -> ei.Components:
    """The first :data:`COMPONENTS` principal components of :func:`cached_world`."""
    return ei.principal_components(cached_world(choice, resolution), COMPONENTS)


@st.cache_data(max_entries=16, show_spinner="Measuring the effective resolution…")
def cached_profile(choice: ei.InspectedEncoder, lon: float) -> ei.ResolutionProfile:
    """The encoder's effective-resolution profile along the meridian at ``lon``."""
    return ei.effective_resolution(cached_encoder(choice), lon)


def world_raster(resolution: int) -> ei.WorldRaster:
    """The globe maps' raster for the world grid at ``resolution`` (one of :data:`RASTER_STEPS`)."""
    return ei.world_raster(resolution, RASTER_STEPS[resolution])


def center_embedding(choice: ei.InspectedEncoder, point: tuple[float, float]) -> np.ndarray:
    """The unit embedding of ``point`` (lon, lat) by the chosen encoder."""
    return encoders.embed_lonlat(cached_encoder(choice), np.asarray([point]))[0]


def distance_text(km: float) -> str:
    """A ½-similarity distance for display (NaN: the similarity never falls to ½)."""
    return "never falls to ½" if math.isnan(km) else f"{km:,.0f} km"


def basis_map(
    choice: ei.InspectedEncoder, world: np.ndarray, resolution: int, mode: Literal["component", "dimension"], number: int
) -> tuple[np.ndarray | None, str]:
    """(per-cell values, title) of principal component ``number`` (from 1) or embedding dimension ``number``
    (from 0) of the world grid ``world``; (None, why) when the encoder has no such component or dimension."""
    if mode == "component":
        components = cached_components(choice, resolution)
        if number > components.scores.shape[1]:
            return None, f"{choice.label} has only {components.scores.shape[1]} components."
        explained = components.explained[number - 1]
        return components.scores[:, number - 1], f"{choice.label}: PC {number} ({explained:.1%} of the variance)"
    if number >= world.shape[1]:
        return None, f"{choice.label} has only {world.shape[1]} dimensions."
    return world[:, number], f"{choice.label}: dimension {number} of {world.shape[1]} (unit-normalised)"

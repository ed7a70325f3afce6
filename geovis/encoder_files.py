"""Widgets for a location encoder as files: download a run's encoder as a model folder (.zip), and choose an
exported model folder wherever a run's encoder is chosen."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.data.paths import data_root
from core.location.model_folder import find_model_folders
from core.train.records import runs_root
from core.workflows.encoder_download import encoder_zip

EXPORT_HINT = "python -m core encoder export RUN --out data/models/NAME"
"""How a user makes a model folder the app can find, for messages."""


@st.cache_data(ttl=10, show_spinner=False)
def model_folders() -> list[Path]:
    """Exported model folders under the runs root and the data root, newest first (re-scanned every 10 s)."""
    return find_model_folders([runs_root(), data_root()])


def pick_model_folder(container, key: str) -> str | None:
    """A select box of the exported model folders in ``container``; None (with how to make one) when there are none."""
    folders = model_folders()
    if not folders:
        container.info(
            f"No exported model folder under `{runs_root()}` or `{data_root()}` yet: download one from a run's card "
            f"on the Pre-train page and unzip it there, or run `{EXPORT_HINT}`."
        )
        return None
    roots = (runs_root(), data_root())
    folder = container.selectbox(
        "Model folder", folders, key=key, format_func=lambda path: _relative_name(path, roots),
        help="Exported location encoders (config.json + encoder.safetensors) found under the runs and data folders",
    )
    return str(folder)


def encoder_download_button(container, run_dir: Path, key: str) -> None:
    """**Download the encoder**: the run's location encoder as a model folder in a .zip, built on click."""
    name = f"{Path(run_dir).name}-encoder"
    container.download_button(
        "Download the encoder", data=lambda: encoder_zip(run_dir, name), file_name=f"{name}.zip", mime="application/zip",
        key=key, on_click="ignore", icon=":material/download:",
        help="The location encoder alone as a model folder: weights, config.json with checksums, MODEL_CARD.md, "
        "ONNX and TorchScript graphs. Load it with geocsp.load_encoder(folder), or without GeoCSP.",
    )


def _relative_name(path: Path, roots: tuple[Path, ...]) -> str:
    for root in roots:
        if path.is_relative_to(root.resolve()):
            return f"{root.name}/{path.relative_to(root.resolve())}"
    return str(path)

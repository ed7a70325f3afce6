"""Write a model folder: :func:`export_encoder` (see :mod:`core.location.model_folder` for the format)."""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import save_file

from core.files import file_sha256
from core.location.export.card import model_card
from core.location.export.evaluation import probe_section
from core.location.export.graphs import FORMATS, INPUT_NAME, ONNX_OPSET, OUTPUT_NAME, ExportError, write_onnx, write_torchscript
from core.location.export.source import ExportSource, resolve_source
from core.location.model_folder import (
    CARD_FILE, CONFIG_FILE, FORMAT, FORMAT_VERSION, INPUT_CONVENTION, WEIGHTS_FILE, encoder_fields, is_model_folder,
)

DEFAULT_FORMATS = ("onnx", "torchscript")
_WRITERS = {"onnx": write_onnx, "torchscript": write_torchscript}
_EXPORT_FILES = {CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, *FORMATS.values()}


def export_encoder(source: str | Path, out_dir: str | Path, formats: Sequence[str] = DEFAULT_FORMATS) -> Path:
    """Export the encoder ``source`` names (anything :func:`~core.location.loading.load_encoder` takes: a run
    folder, ``geoclip``, ``encoding:NAME[:k=v,...]``, a model folder) to the model folder ``out_dir``; returns it.

    Writes ``encoder.safetensors``, the graph files of ``formats`` (``onnx``, ``torchscript``), ``MODEL_CARD.md``
    and ``config.json`` with the SHA-256 of each, in a temporary folder renamed onto ``out_dir`` at the end.
    ``out_dir`` may be missing, empty or an earlier export (replaced); anything else is refused before any work.
    :class:`ExportError` (or the loader's EncoderLoadError) says what is wrong; nothing is left behind then.
    """
    out_dir = Path(out_dir)
    formats = _check_formats(formats)
    _check_target(out_dir)
    exported = resolve_source(source)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.export-"))
    try:
        _write_folder(exported, staging, formats)
        _replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ExportError(f"unknown export format(s) {unknown}; choose from {sorted(FORMATS)}")
    return tuple(dict.fromkeys(formats))


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir}: is a file; give a folder for the model")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not is_model_folder(out_dir):
        raise ExportError(f"{out_dir}: not empty and not an earlier GeoCSP export; refusing to overwrite it (give a new or empty folder)")
    others = sorted(path.name for path in out_dir.iterdir() if path.name not in _EXPORT_FILES)
    if others:
        raise ExportError(f"{out_dir}: an earlier export with other files in it ({', '.join(others)}); refusing to replace them")


def _write_folder(exported: ExportSource, folder: Path, formats: tuple[str, ...]) -> None:
    encoder = exported.encoder
    save_file({key: value.contiguous() for key, value in encoder.state_dict().items()}, str(folder / WEIGHTS_FILE), metadata={"format": FORMAT})
    for name in formats:
        _WRITERS[name](encoder, folder / FORMATS[name])
    (folder / CARD_FILE).write_text(model_card(exported, formats, probe_section(exported)))
    names = [WEIGHTS_FILE, *(FORMATS[name] for name in formats), CARD_FILE]
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "encoder": encoder_fields(encoder.config),
        "sizes": {"encoding_dim": encoder.encoding.out_dim, "output_dim": encoder.output_dim, "embedding_dim": encoder.embedding_dim},
        "input": {"name": INPUT_NAME, **INPUT_CONVENTION},
        "output": {"name": OUTPUT_NAME, "shape": ["N", encoder.embedding_dim], "dtype": "float32", "layer": encoder.config.embedding, "l2_normalised": False},
        "graphs": {name: {"file": FORMATS[name], **({"opset": ONNX_OPSET} if name == "onnx" else {})} for name in formats},
        "source": exported.record(),
        "exported_with": {"torch": torch.__version__, "python": platform.python_version()},
        "files": {name: {"sha256": file_sha256(folder / name), "bytes": (folder / name).stat().st_size} for name in names},
    }
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


def _replace(staging: Path, out_dir: Path) -> None:
    """Put the finished ``staging`` folder at ``out_dir``, removing what was there (empty, or an earlier export)."""
    if out_dir.is_dir():
        old = out_dir.with_name(f".{out_dir.name}.replaced-{staging.name[-8:]}")
        out_dir.rename(old)
        staging.rename(out_dir)
        shutil.rmtree(old)
    else:
        staging.rename(out_dir)

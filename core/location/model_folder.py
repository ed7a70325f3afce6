"""The exported model folder: a location encoder that is complete on its own (written by
:func:`core.location.export.export_encoder`, read back here by :func:`read_model_folder`).

``config.json`` states the format version, the encoder's recipe (encoding, network, their params, sizes,
embedding layer, precision), the input convention and the SHA-256 of every other file in the folder;
``encoder.safetensors`` holds the location encoder's weights only. Reading checks the version and every
checksum before any weight is read, and never unpickles anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file

from core.files import file_sha256
from core.location.config import LocationEncoderConfig
from core.location.encoder import LocationEncoder
from core.location.params import ConfigError

FORMAT = "geocsp-location-encoder"
"""The ``format`` field of ``config.json``: what marks a folder as an exported location encoder."""
FORMAT_VERSION = 1
"""The newest ``format_version`` this GeoCSP reads (and the one it writes)."""
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "encoder.safetensors"
CARD_FILE = "MODEL_CARD.md"
INPUT_CONVENTION = {
    "shape": ["N", 2],
    "dtype": "float32",
    "units": "degrees",
    "order": ["lon", "lat"],
    "valid_ranges": {"lon": [-180.0, 180.0], "lat": [-90.0, 90.0]},
    "longitude_wrapping": "any finite longitude is taken modulo 360 into [-180, 180) (180 is -180)",
    "invalid_rows": "NaN, infinite or |lat| > 90: the library raises CoordinateError; the ONNX and TorchScript graphs return a row of NaN",
}
"""How every form of the encoder reads its input (stated in ``config.json`` and the model card)."""


class ModelFolderError(ValueError):
    """A model folder that cannot be read: a missing or tampered file, a newer format, a bad config."""


def encoder_fields(config: LocationEncoderConfig) -> dict[str, Any]:
    """The encoder's recipe as ``config.json`` states it: encoding and network with their params, output size,
    embedding layer and precision (every field, defaults included)."""
    return {
        "encoding": {"name": config.encoding, "params": config.encoding_params},
        "network": {"name": config.network, "params": config.network_params},
        "output_dim": config.output_dim,
        "embedding": config.embedding,
        "precision": config.precision,
    }


def encoder_config(fields: dict[str, Any]) -> LocationEncoderConfig:
    """The :class:`LocationEncoderConfig` of ``config.json``'s recipe fields (:func:`encoder_fields`'s inverse)."""
    try:
        return LocationEncoderConfig(
            encoding=fields["encoding"]["name"],
            encoding_params=dict(fields["encoding"]["params"]),
            network=fields["network"]["name"],
            network_params=dict(fields["network"]["params"]),
            output_dim=fields["output_dim"],
            embedding=fields["embedding"],
            precision=fields["precision"],
        )
    except (KeyError, TypeError) as error:
        raise ConfigError(f"the encoder recipe lacks {error}") from None


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` holds a ``config.json`` that says it is an exported location encoder (read, not verified)."""
    try:
        return json.loads((Path(path) / CONFIG_FILE).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def find_model_folders(roots: list[Path], max_depth: int = 3) -> list[Path]:
    """Model folders (:func:`is_model_folder`) under ``roots``, at most ``max_depth`` folders down, newest
    first. Hidden folders are skipped and symlinks are not followed, so nothing outside the roots is listed."""
    found: set[Path] = set()
    for root in map(Path, roots):
        for folder, subfolders, files in os.walk(root, followlinks=False):
            depth = len(Path(folder).relative_to(root).parts)
            subfolders[:] = [] if depth >= max_depth else [name for name in subfolders if not name.startswith(".")]
            if CONFIG_FILE in files and is_model_folder(Path(folder)):
                found.add(Path(folder).resolve())
                subfolders[:] = []
    return sorted(found, key=lambda path: (-path.stat().st_mtime, str(path)))


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` of a model folder after checking its format, its version and every file's SHA-256;
    :class:`ModelFolderError` names the file (or field) that fails."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFolderError(f"{path}: missing; a model folder starts with its {CONFIG_FILE}") from None
    except (OSError, ValueError) as error:
        raise ModelFolderError(f"{path}: unreadable ({error})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFolderError(f"{path}: not a GeoCSP model folder (its format is not {FORMAT!r})")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFolderError(f"{path}: format_version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFolderError(
            f"{path}: format_version {version} is newer than this GeoCSP reads ({FORMAT_VERSION}); update GeoCSP to load it"
        )
    files = config.get("files")
    if not isinstance(files, dict) or WEIGHTS_FILE not in files:
        raise ModelFolderError(f"{path}: 'files' must list the checksum of {WEIGHTS_FILE} at least")
    for name, entry in files.items():
        _check_file(folder, name, entry)
    return config


def _check_file(folder: Path, name: str, entry: Any) -> None:
    """Raise :class:`ModelFolderError` naming ``name`` when it is missing, outside the folder or differs from its SHA-256."""
    if Path(name).name != name:
        raise ModelFolderError(f"{folder / CONFIG_FILE}: file entry {name!r} is not a plain file name")
    expected = entry.get("sha256") if isinstance(entry, dict) else None
    path = folder / name
    if not path.is_file():
        raise ModelFolderError(f"{path}: missing (config.json lists it with its checksum)")
    if file_sha256(path) != expected:
        raise ModelFolderError(f"{path}: checksum mismatch: the file was changed or damaged after export")


def read_model_folder(folder: Path | str) -> LocationEncoder:
    """The location encoder of an exported model folder, in eval mode, after :func:`read_config`'s checks."""
    folder = Path(folder)
    config = read_config(folder)
    try:
        encoder = LocationEncoder(encoder_config(config.get("encoder", {})))
    except ConfigError as error:
        raise ModelFolderError(f"{folder / CONFIG_FILE}: encoder: {error}") from None
    path = folder / WEIGHTS_FILE
    try:
        encoder.load_state_dict(load_file(str(path)), strict=True)
    except (OSError, SafetensorError, RuntimeError) as error:
        raise ModelFolderError(f"{path}: weights do not fit the encoder config.json describes ({str(error).splitlines()[0]})") from None
    return encoder.eval()

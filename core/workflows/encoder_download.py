"""A trained run's location encoder as one downloadable file: its exported model folder, zipped."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from core.location.export import export_encoder


def encoder_zip(source: str | Path, name: str) -> bytes:
    """The model folder of ``source`` (a run folder, or anything :func:`core.location.load_encoder` takes) as
    a .zip whose entries sit in one folder ``name/``, built in a temporary folder that is removed after."""
    with tempfile.TemporaryDirectory(prefix="geocsp-encoder-") as scratch:
        folder = export_encoder(source, Path(scratch) / name)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.iterdir()):
                archive.write(path, f"{name}/{path.name}")
        return buffer.getvalue()

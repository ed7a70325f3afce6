"""What is being exported: the encoder that :func:`~core.location.loading.load_encoder` gives for a source,
and where it came from (a trained run, GeoCLIP's release, a bare encoding, an earlier export)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.location.encoder import LocationEncoder
from core.location.loading import load_encoder
from core.location.model_folder import CONFIG_FILE, is_model_folder

SourceKind = Literal["run", "geoclip", "encoding", "model_folder"]


@dataclass(frozen=True)
class ExportSource:
    """The encoder to export (eval mode) and its origin: ``kind``, the ``name`` it was given, the run folder
    (for runs) and, for an earlier export, that export's own ``source`` record."""

    encoder: LocationEncoder
    kind: SourceKind
    name: str
    run_dir: Path | None = None
    previous: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        """The ``source`` entry of ``config.json``: what was exported (an earlier export keeps its origin)."""
        if self.previous is not None:
            return self.previous
        record: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.run_dir is not None:
            record["run"] = self.run_dir.name
        return record


def resolve_source(source: str | Path) -> ExportSource:
    """The :class:`ExportSource` of anything :func:`load_encoder` takes; its errors (EncoderLoadError) pass through."""
    text = str(source)
    encoder = load_encoder(text)
    if text == "geoclip":
        return ExportSource(encoder, "geoclip", text)
    if text.startswith("encoding:"):
        return ExportSource(encoder, "encoding", text)
    path = Path(text.removeprefix("run:"))
    if is_model_folder(path):
        previous = json.loads((path / CONFIG_FILE).read_text()).get("source")
        return ExportSource(encoder, "model_folder", text, previous=previous if isinstance(previous, dict) else None)
    return ExportSource(encoder, "run", text, run_dir=path.resolve())

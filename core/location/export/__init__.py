"""Taking a location encoder out of GeoCSP: :func:`export_encoder` writes a self-describing model folder
(weights, config with checksums, model card, ONNX and TorchScript graphs); ``core.location.load_encoder``
reads it back (:mod:`core.location.model_folder`).

Names resolve on first use (:mod:`core.lazy_exports`), so importing the package pulls in no exporter.
"""

from __future__ import annotations

from core.lazy_exports import lazy_exports

_EXPORTS = {
    "DEFAULT_FORMATS": "core.location.export.writer",
    "ExportError": "core.location.export.graphs",
    "FORMATS": "core.location.export.graphs",
    "export_encoder": "core.location.export.writer",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

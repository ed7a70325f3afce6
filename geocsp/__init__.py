"""GeoCSP for library users: load a location encoder, embed points, list and build encoders.

>>> import geocsp
>>> encoder = geocsp.load_encoder("runs/starter-pretrain")  # a model folder, a run, "geoclip" or "encoding:NAME"
>>> encoder.embed(torch.tensor([[2.35, 48.86]]))            # (lon, lat) degrees → [1, embedding_dim]

These few names are the documented, stable surface; ``core`` is the implementation behind them and may
change shape. Each name is imported from the ``core`` module that defines it on first use (PEP 562), so
``import geocsp`` costs nothing until a name is used.
"""

from __future__ import annotations

from core.lazy_exports import lazy_exports

_EXPORTS = {
    "ENCODINGS": "core.location.registry",
    "EncoderLoadError": "core.location.loading",
    "LocationEncoder": "core.location.encoder",
    "build_location_encoder": "core.location.encoder",
    "embed_points": "core.embed.run",
    "export_encoder": "core.location.export.writer",
    "list_encoders": "core.location.catalog",
    "load_encoder": "core.location.loading",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

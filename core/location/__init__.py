"""Location encoders: positional encodings (one small module each) + networks, behind one API.

>>> encoder = build_location_encoder({"encoding": "sphereM+", "output_dim": 128})
>>> encoder(torch.tensor([[2.35, 48.86]]))  # (lon, lat) degrees → [1, 128]

The names below are resolved on first use (PEP 562): the submodules import one another and this package,
so a package ``__init__`` that imported them eagerly would put every submodule on an import cycle, and two
threads importing it at once (two app sessions, or a page and the warm-up) could see a partially
initialised module. Lazy names keep the import graph acyclic, which Python's per-module import locks make
safe to import from any number of threads.
"""

from __future__ import annotations

from core.lazy_exports import lazy_exports

_EXPORTS = {
    "DEFAULT_OUTPUT_DIM": "core.location.config",
    "ENCODINGS": "core.location.registry",
    "NETWORKS": "core.location.registry",
    "ConfigError": "core.location.params",
    "LocationEncoder": "core.location.encoder",
    "LocationEncoderConfig": "core.location.config",
    "PretrainedUnavailable": "core.location.pretrained",
    "build_location_encoder": "core.location.encoder",
    "geoclip_status": "core.location.pretrained",
    "list_encoders": "core.location.catalog",
    "load_encoder": "core.location.loading",
    "load_pretrained_geoclip": "core.location.pretrained",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

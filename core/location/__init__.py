"""Location encoders: positional encodings (one small module each) + networks, behind one API.

>>> encoder = build_location_encoder({"encoding": "sphereM+", "output_dim": 128})
>>> encoder(torch.tensor([[2.35, 48.86]]))  # (lon, lat) degrees → [1, 128]
"""

from core.location.catalog import list_encoders
from core.location.config import DEFAULT_OUTPUT_DIM, LocationEncoderConfig
from core.location.encoder import LocationEncoder, build_location_encoder
from core.location.params import ConfigError
from core.location.pretrained import PretrainedUnavailable, geoclip_status, load_pretrained_geoclip
from core.location.registry import ENCODINGS, NETWORKS

__all__ = [
    "DEFAULT_OUTPUT_DIM",
    "ENCODINGS",
    "NETWORKS",
    "ConfigError",
    "LocationEncoder",
    "LocationEncoderConfig",
    "PretrainedUnavailable",
    "build_location_encoder",
    "geoclip_status",
    "list_encoders",
    "load_pretrained_geoclip",
]

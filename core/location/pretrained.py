"""GeoCLIP's released location encoder, read from the ``geoclip`` wheel's weights file.

The file is found through ``importlib.metadata`` (importing ``geoclip`` would pull in packages we do
not install) and loaded with ``torch.load(weights_only=True)``; its keys are mapped by name onto
:class:`~core.location.encodings.geoclip.GeoCLIPEncoding`, whose branches are stacked.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import torch

from core.location.config import LocationEncoderConfig
from core.location.encoder import LocationEncoder

GEOCLIP_WEIGHTS = "geoclip/model/weights/location_encoder_weights.pth"
"""Path of the location-encoder weights inside the geoclip==1.3.0 wheel."""


def geoclip_config() -> LocationEncoderConfig:
    """GeoCLIP's architecture (a fresh config each call); the seed is irrelevant once the weights are loaded."""
    return LocationEncoderConfig(
        encoding="geoclip",
        encoding_params={"sigmas": [2.0**0, 2.0**4, 2.0**8], "num_frequencies": 256, "hidden_dim": 1024, "num_layers": 3, "embed_dim": 512},
        network="identity",
    )


_KEY = re.compile(r"LocEnc(\d+)\.(capsule\.(\d+)|head\.0)\.(b|weight|bias)")


class PretrainedUnavailable(RuntimeError):
    """A pretrained encoder whose package or weights file is not installed."""


def geoclip_weights_path() -> Path:
    """The weights file inside the installed geoclip wheel; raises :class:`PretrainedUnavailable` with the reason."""
    try:
        path = Path(metadata.distribution("geoclip").locate_file(GEOCLIP_WEIGHTS))
    except metadata.PackageNotFoundError:
        raise PretrainedUnavailable("the geoclip wheel is not installed (pip install --no-deps geoclip==1.3.0)") from None
    if not path.is_file():
        raise PretrainedUnavailable(f"the geoclip wheel has no weights file at {path}")
    return path


def geoclip_status() -> tuple[bool, str]:
    """(available, reason): whether :func:`load_pretrained_geoclip` can run here."""
    try:
        return True, f"weights at {geoclip_weights_path()}"
    except PretrainedUnavailable as error:
        return False, str(error)


def map_geoclip_state_dict(state: dict[str, torch.Tensor], num_layers: int) -> dict[str, torch.Tensor]:
    """GeoCLIP keys (``LocEnc{i}.capsule.{0,1,3,5}``, ``LocEnc{i}.head.0``) → our stacked branch keys.

    ``capsule.0.b`` is branch i's frequency matrix; ``capsule.{2k+1}`` is hidden layer k; ``head.0``
    is layer ``num_layers``. Unknown keys raise ``KeyError`` naming them.
    """
    branches: dict[str, dict[int, torch.Tensor]] = {}
    for key, value in state.items():
        match = _KEY.fullmatch(key)
        if match is None:
            raise KeyError(f"unexpected key in GeoCLIP weights: {key}")
        branch, _, capsule_index, kind = match.groups()
        if kind == "b":
            target = "encoding.frequencies"
        else:
            layer = num_layers if capsule_index is None else (int(capsule_index) - 1) // 2
            target = f"encoding.layers.{layer}.{kind}"
        branches.setdefault(target, {})[int(branch)] = value
    return {target: torch.stack([parts[i] for i in sorted(parts)]) for target, parts in branches.items()}


def load_pretrained_geoclip() -> LocationEncoder:
    """GeoCLIP's location encoder with its released weights, in eval mode: (lon, lat) degrees → 512-d.

    The embedding is GeoCLIP's raw location feature (GeoCLIP L2-normalises it before its logits).
    Our API takes (lon, lat); GeoCLIP's own code takes (lat, lon) — the projection reads our order.
    """
    state = torch.load(geoclip_weights_path(), map_location="cpu", weights_only=True)
    config = geoclip_config()
    encoder = LocationEncoder(config)
    encoder.load_state_dict(map_geoclip_state_dict(state, config.encoding_params["num_layers"]), strict=True)
    return encoder.eval()

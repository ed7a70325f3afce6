"""Loading location encoders: a trained run's (pretrain or finetune), an untrained registry encoder from a seed,
GeoCLIP's released one, or an exported model folder, by one call (:func:`load_encoder`).

Only the location encoder's weights are read from a run (``location.`` keys of its best checkpoint), never
its dataset or features; nothing is unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file

from core.location.config import LocationEncoderConfig
from core.location.encoder import LocationEncoder, build_location_encoder
from core.location.model_folder import CONFIG_FILE, ModelFolderError, read_model_folder
from core.location.networks import legacy_layout_hint
from core.location.params import ConfigError
from core.location.pretrained import PretrainedUnavailable, load_pretrained_geoclip
from core.location.registry import ENCODINGS
from core.train.checkpoint import MODEL_FILE, CheckpointError
from core.train.config import RunConfig
from core.train.records import BEST

EncoderSource = Literal["untrained", "run", "pretrained", "model"]
#: Training stages whose model holds a location encoder (``model.location``).
RUN_STAGES = ("pretrain", "finetune")


class EncoderLoadError(RuntimeError):
    """The chosen location encoder cannot be built or loaded; the message says why."""


@dataclass(frozen=True)
class EncoderChoice:
    """Which location encoder to embed with.

    ``source="untrained"``: ``name`` is a registry encoding, built with default params from ``seed``;
    ``"run"``: ``name`` is a run directory (pretrain or finetune); ``"pretrained"``: ``name`` is "geoclip";
    ``"model"``: ``name`` is an exported model folder (``python -m core encoder export``).
    """

    source: EncoderSource
    name: str
    seed: int = 0

    @property
    def label(self) -> str:
        """Short human-readable name."""
        if self.source in ("run", "model"):
            return f"{self.source} {Path(self.name).name}"
        if self.source == "untrained":
            return f"untrained {self.name} (seed {self.seed})"
        return f"pretrained {self.name}"


def location_run_config(run_dir: Path) -> RunConfig:
    """The config of a run that has a location encoder (pretrain or finetune); :class:`CheckpointError` otherwise."""
    try:
        config = RunConfig.from_yaml((run_dir / "config.yaml").read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{run_dir}: not a GeoCSP run (config.yaml missing)") from None
    if config.stage not in RUN_STAGES:
        raise CheckpointError(f"{run_dir}: a {config.stage} run has no location encoder")
    return config


def untrained_run_encoder(run_dir: Path | str) -> LocationEncoder:
    """A run's location encoder (same encoding, network, size and embedding layer) at random weights drawn
    from the run's seed, in eval mode: the untrained baseline of exactly that recipe. Reads only ``config.yaml``."""
    config = location_run_config(Path(run_dir))
    return seeded_encoder(config.location_config(), config.seed)


def seeded_encoder(config: LocationEncoderConfig | dict[str, Any], seed: int) -> LocationEncoder:
    """A location encoder built from ``config`` with its random weights drawn from ``seed`` (the global torch
    generator is left as it was), in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_location_encoder(config).eval()


def run_location_encoder(run_dir: Path | str) -> LocationEncoder:
    """The location encoder of a trained run (its best checkpoint), in eval mode.

    Works for pretrain runs (a CSPModel) and finetune runs (a LocationClassifier): both keep the
    encoder under ``location.``; only those weights are read, so no dataset or features are loaded.
    """
    run_dir = Path(run_dir)
    config = location_run_config(run_dir)
    path = run_dir / "checkpoints" / BEST / MODEL_FILE
    try:
        weights = load_file(str(path))
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"{path}: unreadable ({error})") from None
    state = {key.removeprefix("location."): value for key, value in weights.items() if key.startswith("location.")}
    encoder = LocationEncoder(config.location_config())
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as error:
        missing = sorted(set(encoder.state_dict()) - set(state))
        reason = legacy_layout_hint(missing) if set(state) <= set(encoder.state_dict()) else None
        raise CheckpointError(f"{path}: weights do not fit the run's location encoder ({reason or str(error).splitlines()[0]})") from None
    return encoder.eval()


def load_choice(choice: EncoderChoice) -> LocationEncoder:
    """Build or load the chosen encoder in eval mode; :class:`EncoderLoadError` says why it cannot."""
    try:
        if choice.source == "run":
            return run_location_encoder(choice.name)
        if choice.source == "model":
            return load_encoder(choice.name)
        if choice.source == "pretrained":
            if choice.name != "geoclip":
                raise EncoderLoadError(f"unknown pretrained encoder {choice.name!r}; only 'geoclip' exists")
            return load_pretrained_geoclip()
        if choice.source == "untrained":
            return seeded_encoder({"encoding": choice.name, "encoding_params": _seeded_params(choice)}, choice.seed)
    except (CheckpointError, ConfigError, PretrainedUnavailable, OSError) as error:
        raise EncoderLoadError(f"{choice.label}: {error}") from error
    raise EncoderLoadError(f"unknown encoder source {choice.source!r}")


def parse_options(options: str) -> dict[str, Any]:
    """``k=v,k=v`` → dict, values read as YAML scalars (numbers, booleans, lists); ValueError names a bad item."""
    params: dict[str, Any] = {}
    for item in filter(None, options.split(",")):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"option {item!r} is not key=value")
        params[key.strip()] = yaml.safe_load(value)
    return params


def bare_encoding_encoder(name: str, params: dict[str, Any] | None = None) -> LocationEncoder:
    """The positional encoding ``name`` alone (identity network, no weights to learn), in eval mode: its
    :meth:`~LocationEncoder.embed` is the encoding's features, cast to float32."""
    if name not in ENCODINGS:
        raise ConfigError(f"unknown encoding {name!r}; choose from {sorted(ENCODINGS)}")
    return build_location_encoder({"encoding": name, "encoding_params": dict(params or {}), "network": "identity"}).eval()


ENCODER_SOURCES = "a model folder, a run folder (or run:PATH), geoclip, or encoding:NAME[:k=v,...]"
"""What :func:`load_encoder` accepts, for messages."""


def load_encoder(source: str | Path) -> LocationEncoder:
    """A location encoder in eval mode from ``source``: an exported model folder, a pretrain or finetune run
    folder (also written ``run:PATH``), ``geoclip`` (GeoCLIP's released encoder) or ``encoding:NAME[:k=v,...]``
    (a bare positional encoding with those params). :class:`EncoderLoadError` says why it cannot.

    >>> encoder = load_encoder("runs/starter-pretrain")
    >>> encoder.encode(lonlat=[[2.35, 48.86]])  # the network's output; encoder.embed(...) for the embedding layer
    """
    text = str(source)
    try:
        if text == "geoclip":
            return load_pretrained_geoclip()
        if text.startswith("encoding:"):
            name, _, options = text.removeprefix("encoding:").partition(":")
            return bare_encoding_encoder(name, parse_options(options))
        path = Path(text.removeprefix("run:"))
        if (path / CONFIG_FILE).is_file() and not text.startswith("run:"):
            return read_model_folder(path)
        if (path / "config.yaml").is_file():
            return run_location_encoder(path)
        if not path.exists():
            raise EncoderLoadError(f"{text}: no such folder; give {ENCODER_SOURCES}")
        raise EncoderLoadError(f"{text}: neither a GeoCSP model folder nor a run folder; give {ENCODER_SOURCES}")
    except ModelFolderError as error:
        raise EncoderLoadError(str(error)) from error
    except (CheckpointError, ConfigError, PretrainedUnavailable, OSError, ValueError) as error:
        if isinstance(error, EncoderLoadError):
            raise
        raise EncoderLoadError(f"{text}: {error}") from error


def _seeded_params(choice: EncoderChoice) -> dict[str, int]:
    """Encodings with a seed param of their own (random frequencies, centres) take the choice's seed."""
    if choice.name not in ENCODINGS:
        raise ConfigError(f"unknown encoding {choice.name!r}; choose from {sorted(ENCODINGS)}")
    return {"seed": choice.seed} if "seed" in ENCODINGS[choice.name].params else {}



@torch.no_grad()
def embed_lonlat(encoder: LocationEncoder, lonlat: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """L2-normalised embeddings of (lon, lat) degree rows ``[N, 2]``, float32 ``[N, D]`` (a zero embedding stays zero)."""
    points = torch.as_tensor(np.asarray(lonlat), dtype=torch.float32).reshape(-1, 2)
    if not len(points):
        raise ValueError("no points to embed")
    device = next((t.device for t in [*encoder.parameters(), *encoder.buffers()]), torch.device("cpu"))
    parts = [torch.nn.functional.normalize(encoder.embed(batch.to(device)).float(), dim=1).cpu() for batch in points.split(batch_size)]
    return torch.cat(parts).numpy()  # normalised batch by batch: no second full-size copy

"""A MoCo-trained backbone as an image encoder (``moco:<run folder>``), so CSP can use it unchanged.

Importing this module registers the ``moco:`` family in the image registry; ``core.train.data``, which
resolves configured encoder names for training and prediction, imports it.
"""

from __future__ import annotations

from functools import lru_cache

from safetensors.torch import load_file
from torch import nn

from core.image.preprocess import Preprocessing
from core.image.registry import ImageEncoderSpec, get_image_encoder, register_encoder_family
from core.train.checkpoint import MODEL_FILE, CheckpointError
from core.train.config import RunConfig
from core.train.records import BEST, runs_root

MOCO_PREFIX = "moco:"


@lru_cache(maxsize=16)
def moco_encoder_spec(name: str) -> ImageEncoderSpec:
    """The encoder spec of a finished MoCo run in the runs folder (frozen backbone, best weights)."""
    run_dir = runs_root() / name.removeprefix(MOCO_PREFIX)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise KeyError(f"image encoder {name!r}: no MoCo run folder {run_dir}")
    config = RunConfig.from_yaml(config_path.read_text())
    if config.stage != "moco":
        raise KeyError(f"image encoder {name!r}: {run_dir} is a {config.stage} run, not a MoCo run")
    base = get_image_encoder(config.moco.backbone)
    weights_path = run_dir / "checkpoints" / BEST / MODEL_FILE

    def build() -> nn.Module:
        backbone = base.build()
        weights = load_file(str(weights_path))
        state = {k.removeprefix("backbone."): v for k, v in weights.items() if k.startswith("backbone.")}
        if not state:
            raise CheckpointError(f"{weights_path}: holds no backbone weights")
        backbone.load_state_dict(state)
        return backbone

    size = config.moco.image_size
    return ImageEncoderSpec(
        name=name,
        description=f"{config.moco.backbone} trained by geography-aware MoCo ({run_dir.name}), {size} px",
        feature_dim=base.feature_dim,
        input_size=size,
        preprocessing=Preprocessing(size, base.preprocessing.mean, base.preprocessing.std),
        pretrained=True,
        build=build,
    )


register_encoder_family(MOCO_PREFIX, moco_encoder_spec)

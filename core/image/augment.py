"""MoCo-v2 augmentations in plain torch, batched, each sample with its own random parameters.

Input and output: float ``[B, 3, H, W]`` in [0, 1]. Every draw comes from the ``generator`` passed
in, so a seeded run sees the same augmentations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

GRAY_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class AugmentConfig:
    """MoCo-v2's recipe (He et al.; Chen et al. 2020), scaled for small chips."""

    crop_scale: tuple[float, float] = (0.2, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: float = 0.5
    jitter: float = 0.8  # probability of colour jitter
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale: float = 0.2
    blur: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)


def _uniform(low: float, high: float, n: int, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def random_resized_crop(images: torch.Tensor, scale, ratio, generator: torch.Generator, out_size: int | None = None) -> torch.Tensor:
    """Crop a random area fraction in ``scale`` with aspect ratio in ``ratio``, resized back (bilinear)."""
    b, _, h, w = images.shape
    out_size = out_size or h
    area = _uniform(*scale, b, generator)
    log_ratio = _uniform(math.log(ratio[0]), math.log(ratio[1]), b, generator)
    aspect = log_ratio.exp()
    width = (area * aspect).sqrt().clamp(max=1.0)
    height = (area / aspect).sqrt().clamp(max=1.0)
    cx = _uniform(0, 1, b, generator) * (1 - width) + width / 2
    cy = _uniform(0, 1, b, generator) * (1 - height) + height / 2
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = width
    theta[:, 0, 2] = cx * 2 - 1
    theta[:, 1, 1] = height
    theta[:, 1, 2] = cy * 2 - 1
    grid = F.affine_grid(theta, (b, 3, out_size, out_size), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def horizontal_flip(images: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(len(images), generator=generator) < probability
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def grayscale(images: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(GRAY_WEIGHTS, dtype=images.dtype)[None, :, None, None]
    return (images * weights).sum(1, keepdim=True).expand_as(images)


def color_jitter(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Brightness, contrast, saturation and hue changes, applied with probability ``config.jitter``."""
    b = len(images)
    apply = (torch.rand(b, generator=generator) < config.jitter)[:, None, None, None]
    out = images * _factors(config.brightness, b, generator)
    mean = grayscale(out).mean(dim=(2, 3), keepdim=True)
    out = (out - mean) * _factors(config.contrast, b, generator) + mean
    gray = grayscale(out)
    out = (out - gray) * _factors(config.saturation, b, generator) + gray
    out = _rotate_hue(out.clamp(0, 1), _uniform(-config.hue, config.hue, b, generator))
    return torch.where(apply, out, images)


def _factors(strength: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """Per-sample multiplicative factors in [1 - strength, 1 + strength], shaped to broadcast."""
    return _uniform(1 - strength, 1 + strength, n, generator)[:, None, None, None]


def _rotate_hue(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate chroma in YIQ space by ``shift`` turns (a smooth, vectorised hue shift)."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    yiq = torch.einsum("ij,bjhw->bihw", to_yiq, images)
    angle = shift * 2 * math.pi
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    i, q = yiq[:, 1], yiq[:, 2]
    rotated = torch.stack([yiq[:, 0], i * cos - q * sin, i * sin + q * cos], 1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(to_yiq), rotated)


def random_grayscale(images: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    apply = (torch.rand(len(images), generator=generator) < probability)[:, None, None, None]
    return torch.where(apply, grayscale(images), images)


def gaussian_blur(images: torch.Tensor, probability: float, sigma_range, generator: torch.Generator) -> torch.Tensor:
    """Separable Gaussian blur with a per-sample sigma (pixels), applied with ``probability``."""
    b, c, h, w = images.shape
    sigma = _uniform(*sigma_range, b, generator)
    radius = max(1, int(math.ceil(2 * sigma_range[1])))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernels = torch.exp(-(offsets[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    kernels = kernels / kernels.sum(1, keepdim=True)  # [B, K]
    grouped = images.reshape(1, b * c, h, w)
    weight = kernels.repeat_interleave(c, 0)
    padded = F.pad(grouped, (radius, radius, 0, 0), mode="reflect")
    blurred = F.conv2d(padded, weight[:, None, None, :], groups=b * c)
    padded = F.pad(blurred, (0, 0, radius, radius), mode="reflect")
    blurred = F.conv2d(padded, weight[:, None, :, None], groups=b * c).reshape(b, c, h, w)
    apply = (torch.rand(b, generator=generator) < probability)[:, None, None, None]
    return torch.where(apply, blurred, images)


def augment(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """The full MoCo-v2 pipeline: crop, flip, jitter, grayscale, blur."""
    out = random_resized_crop(images, config.crop_scale, config.crop_ratio, generator)
    out = horizontal_flip(out, config.flip, generator)
    out = color_jitter(out, config, generator)
    out = random_grayscale(out, config.grayscale, generator)
    return gaussian_blur(out, config.blur, config.blur_sigma, generator).clamp(0, 1)

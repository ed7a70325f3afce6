"""ResNet-18/34/50 in plain torch, with torchvision's parameter names so its state dicts load by key.

``num_classes=None`` gives a headless feature extractor (``fc`` is the identity; 512-d features for
18/34, 2048-d for 50). Trainable from scratch; :func:`load_torchvision_state_dict` loads a
torchvision-format state dict (a user's own ``.pth``) and names every mismatching key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def _downsample(in_channels: int, out_channels: int, stride: int) -> nn.Sequential | None:
    """The projection shortcut (``downsample.0`` conv, ``downsample.1`` BN) when shapes change."""
    if stride == 1 and in_channels == out_channels:
        return None
    projection = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
    return nn.Sequential(projection, nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with an identity (or projection) shortcut; ResNet-18/34."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_channels, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (strided, as torchvision "v1.5"), 1×1 expand ×4; ResNet-50."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + shortcut)


#: Block type and blocks per stage of each depth.
ARCHITECTURES: dict[str, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


class ResNet(nn.Module):
    """ResNet (He et al. 2016) with torchvision's module names; ``forward`` gives features or logits."""

    def __init__(self, architecture: str = "resnet18", num_classes: int | None = None) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown ResNet {architecture!r}; choose from {sorted(ARCHITECTURES)}")
        block, depths = ARCHITECTURES[architecture]
        self.architecture = architecture
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        for stage, (width, depth) in enumerate(zip((64, 128, 256, 512), depths), start=1):
            blocks = []
            for index in range(depth):
                stride = 2 if stage > 1 and index == 0 else 1
                blocks.append(block(channels, width, stride))
                channels = width * block.expansion
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        self.feature_dim = channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Identity() if num_classes is None else nn.Linear(channels, num_classes)
        self._initialise()

    def _initialise(self) -> None:
        """torchvision's initialisation: He-normal convolutions, unit BN scale, zero BN shift."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Features ``[N, feature_dim]`` (headless) or logits ``[N, num_classes]``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(pixels))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class StateDictMismatch(ValueError):
    """A state dict that does not fit a model; lists missing, unexpected and wrongly shaped keys."""

    def __init__(self, missing: list[str], unexpected: list[str], wrong_shape: list[str]) -> None:
        self.missing, self.unexpected, self.wrong_shape = missing, unexpected, wrong_shape
        parts = [
            f"{label}: {', '.join(keys)}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape))
            if keys
        ]
        super().__init__("state dict does not fit the model — " + "; ".join(parts))


def load_torchvision_state_dict(model: ResNet, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load a torchvision-format state dict into ``model`` by key name, all or nothing.

    A ``module.`` prefix (DataParallel) is stripped; ``fc.*`` keys are ignored when the model is
    headless. Raises :class:`StateDictMismatch` naming every missing, unexpected or misshaped key.
    """
    state_dict = {key.removeprefix("module."): value for key, value in state_dict.items()}
    if isinstance(model.fc, nn.Identity):
        state_dict = {key: value for key, value in state_dict.items() if not key.startswith("fc.")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = sorted(
        f"{key} {list(state_dict[key].shape)} ≠ {list(expected[key].shape)}"
        for key in set(expected) & set(state_dict)
        if state_dict[key].shape != expected[key].shape
    )
    if missing or unexpected or wrong_shape:
        raise StateDictMismatch(missing, unexpected, wrong_shape)
    model.load_state_dict(state_dict)


def load_torchvision_file(model: ResNet, path: str | Path) -> None:
    """Load a torchvision ResNet ``.pth`` (a plain state dict; never unpickles arbitrary objects)."""
    load_torchvision_state_dict(model, torch.load(path, map_location="cpu", weights_only=True))

"""Shared fixtures for image-encoder tests."""

from __future__ import annotations

import pytest
import torch

from core.image.registry import ImageEncoder


@pytest.fixture
def encoded_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Number of images per model call, recorded for every call to :meth:`ImageEncoder.encode`."""
    calls: list[int] = []
    original = ImageEncoder.encode

    def counting(self: ImageEncoder, images, **options) -> torch.Tensor:
        calls.append(len(images))
        return original(self, images, **options)

    monkeypatch.setattr(ImageEncoder, "encode", counting)
    return calls

"""Inference form: BatchNorm folding gives the same features, only where it is valid, and leaves the model alone."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_sample_image
from torch import nn

from core.image.efficientnet import load_efficientnet_lite0
from core.image.inference import InferenceForm, conv_batchnorm_pairs, fold_batchnorm
from core.image.registry import get_image_encoder, list_image_encoders


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """24 real 32 px RGB chips cut from two photos (what the default dataset's chips look like in size)."""
    photos = [load_sample_image(name) for name in ("china.jpg", "flower.jpg")]
    corners = [(row, col) for row in (0, 150, 300) for col in (0, 200, 400, 600)]
    return np.stack([photo[row : row + 32, col : col + 32] for photo in photos for row, col in corners])


@pytest.mark.parametrize("spec", list_image_encoders(), ids=lambda spec: spec.name)
def test_folded_features_equal_the_unfolded_ones(spec, chips: np.ndarray) -> None:
    encoder = spec.load()
    chips = chips[::3]  # 8 chips: enough for 224 px inputs too
    pixels = spec.preprocessing(chips)
    with torch.inference_mode():
        unfolded = encoder.model(pixels)
        folded = encoder.inference_model(pixels)
    assert not any(isinstance(module, nn.BatchNorm2d) for module in encoder.inference_model.modules())
    scale = unfolded.abs().max().item()
    torch.testing.assert_close(folded, unfolded, rtol=0, atol=2e-5 * scale)
    torch.testing.assert_close(encoder.encode(chips), folded, rtol=0, atol=0)


def test_folded_efficientnet_is_as_close_to_float64_as_the_original(chips: np.ndarray) -> None:
    encoder = get_image_encoder("efficientnet_lite0_64px").load()
    pixels = encoder.spec.preprocessing(chips)
    with torch.inference_mode():
        exact = copy.deepcopy(encoder.model).double()(pixels.double())
        unfolded_error = (encoder.model(pixels).double() - exact).abs().max()
        folded_error = (encoder.inference_model(pixels).double() - exact).abs().max()
    assert folded_error <= 2 * unfolded_error


def test_all_49_batchnorms_of_efficientnet_lite0_are_folded_and_the_original_is_untouched() -> None:
    model = load_efficientnet_lite0()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    assert len(conv_batchnorm_pairs(model)) == 49
    fold_batchnorm(model)
    assert sum(isinstance(module, nn.BatchNorm2d) for module in model.modules()) == 49
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[key], after[key]) for key in before)


class _SharedConvOutput(nn.Module):
    """A BatchNorm whose input also feeds a shortcut, one after an addition and one after a linear map."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.other = nn.Conv2d(3, 4, 1)
        self.norm_after_add = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.norm(y) + y + self.norm_after_add(self.other(x) + y)


class _DataDependent(nn.Module):
    """Control flow on tensor values: symbolic tracing cannot follow it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x)) if x.sum() > 0 else x


def _with_running_statistics(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with non-trivial BatchNorm statistics and affine parameters."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.1)
            module.weight.data.copy_(torch.randn(module.num_features, generator=generator))
            module.bias.data.copy_(torch.randn(module.num_features, generator=generator))
    return model.eval()


@pytest.mark.parametrize("model", [_SharedConvOutput, _DataDependent])
def test_batchnorms_are_left_alone_where_folding_would_not_be_exact(model: type[nn.Module]) -> None:
    original = _with_running_statistics(model())
    assert conv_batchnorm_pairs(original) == []
    pixels = torch.rand(2, 3, 8, 8)
    with torch.inference_mode():
        torch.testing.assert_close(InferenceForm(original)(pixels), original(pixels))


def test_a_plain_conv_batchnorm_chain_is_folded() -> None:
    chain = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4))
    original = _with_running_statistics(chain)
    assert conv_batchnorm_pairs(original) == [("0", "1"), ("3", "4")]
    pixels = torch.rand(2, 3, 9, 9)
    with torch.inference_mode():
        torch.testing.assert_close(fold_batchnorm(original)(pixels), original(pixels), rtol=1e-5, atol=1e-5)


def test_folding_a_model_in_training_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))

"""Pretrained EfficientNet-Lite0: weight load, the package's padding, features, ImageNet classifier on real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_image

from core.image.efficientnet import EfficientNetLite0, ImageNetClassifier, load_efficientnet_lite0, weights_path
from core.image.imagenet import imagenet_class_names
from core.image.preprocess import efficientnet_lite_preprocessing


@pytest.fixture(scope="module")
def classifier() -> ImageNetClassifier:
    return ImageNetClassifier(load_efficientnet_lite0())


def test_weight_file_matches_the_architecture_key_for_key() -> None:
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    expected = EfficientNetLite0().net.state_dict()
    assert set(state) == set(expected)
    assert all(state[key].shape == expected[key].shape for key in state)


def test_model_is_frozen_and_gives_1280_d_features(classifier: ImageNetClassifier) -> None:
    model = classifier.model
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    for size in (64, 224):
        pixels = efficientnet_lite_preprocessing(size)(np.full((2, 32, 32, 3), 120, dtype=np.uint8))
        with torch.inference_mode():
            features = model(pixels)
        assert features.shape == (2, 1280) and features.dtype == torch.float32
        assert torch.isfinite(features).all()


@pytest.mark.parametrize("size", [64, 57])
def test_builtin_padding_matches_the_packages_same_padding(size: int) -> None:
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    reference.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    ours = load_efficientnet_lite0()
    padded_copies = [module for module in ours.modules() if type(module).__name__ == "Conv2dDynamicSamePadding"]
    assert padded_copies and all(tuple(module.stride) == (2, 2) for module in padded_copies)
    pixels = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(size)) * 2 - 1
    with torch.inference_mode():
        expected = reference.eval().extract_features(pixels).mean(dim=(2, 3))
        torch.testing.assert_close(ours(pixels), expected, rtol=0, atol=1e-6)


def test_class_names_are_the_imagenet_1k_list() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[:2] == ("tench", "goldfish") and names[999] == "toilet paper"


@pytest.mark.parametrize(("photo", "expected"), [("china.jpg", "palace"), ("flower.jpg", "daisy")])
def test_real_photos_are_recognised(classifier: ImageNetClassifier, photo: str, expected: str) -> None:
    image = Image.fromarray(load_sample_image(photo))
    (top5,) = classifier.classify(image, top_k=5)
    assert expected in [guess.name for guess in top5]
    probabilities = [guess.probability for guess in top5]
    assert probabilities == sorted(probabilities, reverse=True)


def test_probabilities_form_a_distribution_over_named_classes(classifier: ImageNetClassifier) -> None:
    drawn = Image.new("RGB", (300, 200), (135, 206, 235))
    ImageDraw.Draw(drawn).ellipse((100, 50, 200, 150), fill=(250, 200, 0))
    chip = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).resize((224, 224))
    probabilities = classifier.probabilities([drawn, chip])
    assert probabilities.shape == (2, 1000)
    assert (probabilities >= 0).all()
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(2), atol=1e-5)
    names = set(imagenet_class_names())
    for guesses in classifier.classify([drawn, chip], top_k=3):
        assert len(guesses) == 3 and all(guess.name in names for guess in guesses)

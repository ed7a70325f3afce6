"""Plain-torch ResNet family and the small CNN: shapes, gradients, torchvision key-name loading."""

from __future__ import annotations

import pytest
import torch

from core.image.resnet import ResNet, StateDictMismatch, load_torchvision_file, load_torchvision_state_dict
from core.image.small_cnn import SmallCNN


@pytest.mark.parametrize(
    ("architecture", "dim", "n_keys"), [("resnet18", 512, 122), ("resnet34", 512, 218), ("resnet50", 2048, 320)]
)
def test_resnet_features_and_torchvision_layout(architecture: str, dim: int, n_keys: int) -> None:
    model = ResNet(architecture).eval()
    features = model(torch.randn(2, 3, 32, 32))
    assert features.shape == (2, dim) and features.dtype == torch.float32
    assert model.feature_dim == dim
    keys = ResNet(architecture, num_classes=1000).state_dict().keys()
    assert len(keys) == n_keys  # as many entries as torchvision's ImageNet model
    assert {"conv1.weight", "bn1.running_var", "layer2.0.downsample.0.weight", "layer4.1.bn2.bias"} <= set(keys)


def test_resnet_with_head_gives_logits() -> None:
    model = ResNet("resnet18", num_classes=10)
    assert model(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    assert model.fc.weight.shape == (10, 512)


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="resnet101"):
        ResNet("resnet101")


@pytest.mark.parametrize(
    "model", [ResNet("resnet18", num_classes=4), SmallCNN(feature_dim=4, width=8)], ids=["resnet18", "small_cnn"]
)
def test_gradients_reach_every_parameter(model: torch.nn.Module) -> None:
    model.train()
    loss = model(torch.randn(4, 3, 32, 32)).square().mean()
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
    assert any(parameter.grad.abs().sum() > 0 for parameter in model.parameters())


def test_state_dict_round_trip_by_key_name(tmp_path) -> None:
    torch.manual_seed(1)
    source = ResNet("resnet18", num_classes=7).eval()
    torch.save(source.state_dict(), tmp_path / "resnet18.pth")
    target = ResNet("resnet18", num_classes=7).eval()
    load_torchvision_file(target, tmp_path / "resnet18.pth")
    for key, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[key]), key
    pixels = torch.randn(2, 3, 32, 32)
    assert torch.equal(source(pixels), target(pixels))


def test_data_parallel_prefix_and_headless_fc_are_handled() -> None:
    source = ResNet("resnet18", num_classes=1000)
    wrapped = {f"module.{key}": value for key, value in source.state_dict().items()}
    headless = ResNet("resnet18")
    load_torchvision_state_dict(headless, wrapped)
    assert torch.equal(headless.layer3[0].conv1.weight, source.layer3[0].conv1.weight)


def test_mismatches_are_all_named() -> None:
    state = ResNet("resnet18", num_classes=5).state_dict()
    state["layer3.1.conv2.weight"] = torch.zeros(256, 256, 1, 1)
    del state["bn1.running_mean"]
    state["layer9.weight"] = torch.zeros(1)
    model = ResNet("resnet18", num_classes=5)
    before = model.layer1[0].conv1.weight.clone()
    with pytest.raises(StateDictMismatch) as caught:
        load_torchvision_state_dict(model, state)
    message = str(caught.value)
    assert "layer3.1.conv2.weight [256, 256, 1, 1] ≠ [256, 256, 3, 3]" in message
    assert "missing: bn1.running_mean" in message and "unexpected: layer9.weight" in message
    assert torch.equal(model.layer1[0].conv1.weight, before)  # all or nothing


def test_resnet50_weights_do_not_load_into_resnet18() -> None:
    with pytest.raises(StateDictMismatch, match="layer1.0.conv3.weight"):
        load_torchvision_state_dict(ResNet("resnet18"), ResNet("resnet50").state_dict())


@pytest.mark.parametrize("size", [32, 64])
def test_small_cnn_feature_dim(size: int) -> None:
    model = SmallCNN(feature_dim=96, width=8).eval()
    features = model(torch.rand(5, 3, size, size))
    assert features.shape == (5, 96) and features.dtype == torch.float32
    with pytest.raises(ValueError):
        SmallCNN(feature_dim=0)

"""The ``precision`` option: float64 encodings behind the same API, in configs and state dicts."""

from __future__ import annotations

import pytest
import torch

from core.location import ENCODINGS, ConfigError, LocationEncoderConfig, build_location_encoder

POINTS = torch.tensor([[2.35, 48.86], [-74.0, 40.7], [151.2, -33.9], [0.0, 90.0], [540.0, -90.0]])


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_every_encoding_computes_in_float64_and_embeds_in_float32(name):
    torch.manual_seed(0)
    encoder = build_location_encoder({"encoding": name, "precision": "float64"}).eval()
    with torch.inference_mode():
        features, embedding = encoder.features(POINTS), encoder(POINTS)
    assert features.dtype == torch.float64 and embedding.dtype == torch.float32
    assert features.shape == (len(POINTS), encoder.encoding.out_dim) and embedding.shape == (len(POINTS), encoder.output_dim)
    assert torch.isfinite(features).all() and torch.isfinite(embedding).all()


def test_float64_and_float32_paths_agree_to_float32_rounding():
    float32 = build_location_encoder({"encoding": "theory", "network": "identity"})
    float64 = build_location_encoder({"encoding": "theory", "network": "identity", "precision": "float64"})
    torch.testing.assert_close(float64.features(POINTS).float(), float32.features(POINTS), atol=2e-4, rtol=0)


def test_precision_round_trips_and_the_default_is_not_written():
    config = LocationEncoderConfig(encoding="sphereM", precision="float64")
    assert LocationEncoderConfig.from_yaml(config.to_yaml()) == config
    assert config.dtype == torch.float64
    assert "precision" not in LocationEncoderConfig(encoding="sphereM").to_dict()  # configs saved before the option compare equal
    assert LocationEncoderConfig.from_dict({"encoding": "sphereM"}).precision == "float32"


@pytest.mark.parametrize("value", ["float16", "double", 64, None])
def test_a_bad_precision_is_refused_by_name(value):
    with pytest.raises(ConfigError, match="precision"):
        LocationEncoderConfig(encoding="grid", precision=value)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_loaded_centres_and_frequencies_are_the_ones_used(precision):
    """The tables derived from rbf centres / rff frequencies follow a loaded state dict (and its dtype)."""
    for name in ("rbf", "rff"):
        source = build_location_encoder({"encoding": name, "encoding_params": {"seed": 1}, "precision": precision}).eval()
        target = build_location_encoder({"encoding": name, "encoding_params": {"seed": 2}, "precision": precision}).eval()
        assert not torch.equal(source.features(POINTS), target.features(POINTS))
        target.load_state_dict(source.state_dict())
        torch.testing.assert_close(target.features(POINTS), source.features(POINTS), atol=0, rtol=0)
        torch.testing.assert_close(target(POINTS), source(POINTS), atol=0, rtol=0)

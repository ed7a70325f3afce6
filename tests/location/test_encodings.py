"""Properties every registered encoding must have: shape, dtype, finiteness, periodicity, gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.location import ENCODINGS, build_location_encoder

ALL = sorted(ENCODINGS)
PERIODIC_BY_ITSELF = ["multires", "nerf", "rbf", "rff", "spherical_harmonics", "tile", "wrap", "wrap_ffn", "xyz"]
"""Encodings whose formula is 360°-periodic in longitude even before the entry wraps longitudes."""


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_and_finite_at_poles_and_antimeridian(name, default_encoder, edge_points):
    encoder = default_encoder(name)
    with torch.inference_mode():
        features = encoder.features(edge_points)
        embedding = encoder(edge_points.double())  # any float input is accepted and computed in float32
    assert features.shape == (len(edge_points), encoder.encoding.out_dim)
    assert embedding.shape == (len(edge_points), encoder.output_dim)
    assert features.dtype == embedding.dtype == torch.float32
    assert torch.isfinite(features).all() and torch.isfinite(embedding).all()


@pytest.mark.parametrize("name", ALL)
def test_periodic_in_longitude_at_the_entry(name, default_encoder, edge_points):
    encoder = default_encoder(name)
    with torch.inference_mode():
        base = encoder(edge_points)
        for turns in (-2, 1, 3):
            shifted = edge_points + torch.tensor([360.0 * turns, 0.0])
            torch.testing.assert_close(encoder(shifted), base, atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("name", PERIODIC_BY_ITSELF)
def test_formula_periodic_and_continuous_across_the_antimeridian(name, default_encoder):
    encoding = default_encoder(name).encoding
    lat = torch.linspace(-89.0, 89.0, 7)
    west = torch.stack([torch.full_like(lat, -180.0), lat], dim=1)
    with torch.inference_mode():
        torch.testing.assert_close(encoding(west + torch.tensor([360.0, 0.0])), encoding(west), atol=2e-3, rtol=1e-3)
        if name != "tile":  # one-hot cells are piecewise constant by design
            east = torch.stack([torch.full_like(lat, 179.9999), lat], dim=1)
            torch.testing.assert_close(encoding(east), encoding(west), atol=5e-3, rtol=1e-2)


@pytest.mark.parametrize("name", ALL)
def test_gradients_reach_every_network_parameter(name):
    torch.manual_seed(0)
    encoder = build_location_encoder({"encoding": name}).train()
    points = torch.tensor([[2.35, 48.86], [-74.0, 40.7], [151.2, -33.9], [0.0, 90.0]])
    encoder(points).square().mean().backward()
    trainable = [(key, p) for key, p in encoder.named_parameters() if p.requires_grad]
    assert trainable
    for key, parameter in trainable:
        assert parameter.grad is not None, key
        assert torch.isfinite(parameter.grad).all(), key
    assert any(p.grad.abs().sum() > 0 for _, p in trainable)


@pytest.mark.parametrize("network", ["linear", "fcnet", "mlp", "siren"])
def test_every_network_trains(network):
    encoder = build_location_encoder({"encoding": "sphereC", "encoding_params": {"num_scales": 4}, "network": network, "output_dim": 8})
    out = encoder(torch.tensor([[10.0, 20.0], [-60.0, -10.0]]))
    out.sum().backward()
    assert out.shape == (2, 8)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in encoder.parameters())


lonlat_rows = st.lists(
    st.tuples(st.floats(-720.0, 720.0, allow_nan=False), st.floats(-90.0, 90.0, allow_nan=False)), min_size=1, max_size=16
)


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=10, deadline=None)
@given(rows=lonlat_rows)
def test_random_coordinates(name, default_encoder, rows):
    encoder = default_encoder(name)
    points = torch.tensor(rows, dtype=torch.float32)
    wrapped = torch.stack([torch.remainder(points[:, 0] + 180.0, 360.0) - 180.0, points[:, 1]], dim=1)
    with torch.inference_mode():
        embedding = encoder(points)
        assert embedding.shape == (len(rows), encoder.output_dim)
        assert torch.isfinite(embedding).all()
        torch.testing.assert_close(embedding, encoder(wrapped), atol=2e-3, rtol=1e-3)

"""GeoCLIP's released location encoder, mapped into our module and checked against the formulas."""

from __future__ import annotations

import math
from importlib import metadata

import pytest
import torch
from torch.nn import functional as F

from core.location import geoclip_status, list_encoders, load_pretrained_geoclip
from core.location import pretrained
from core.location.encodings.geoclip import equal_earth

AVAILABLE, REASON = geoclip_status()
needs_weights = pytest.mark.skipif(not AVAILABLE, reason=REASON)

PARIS, LONDON, SYDNEY = (2.3522, 48.8566), (-0.1276, 51.5072), (151.2093, -33.8688)


def equal_earth_by_hand(lon: float, lat: float) -> tuple[float, float]:
    """Equal Earth x, y (radians) times GeoCLIP's 66.50336/180, straight from the published formula."""
    a1, a2, a3, a4 = 1.340264, -0.081106, 0.000893, 0.003796
    theta = math.asin(math.sqrt(3) / 2 * math.sin(math.radians(lat)))
    x = 2 * math.sqrt(3) * math.radians(lon) * math.cos(theta) / (3 * (9 * a4 * theta**8 + 7 * a3 * theta**6 + 3 * a2 * theta**2 + a1))
    y = a4 * theta**9 + a3 * theta**7 + a2 * theta**3 + a1 * theta
    return x * 66.50336 / 180, y * 66.50336 / 180


@pytest.mark.parametrize("lon, lat", [PARIS, SYDNEY, (-180.0, 90.0), (179.0, -60.0)])
def test_equal_earth_matches_the_formula(lon, lat):
    torch.testing.assert_close(equal_earth(torch.tensor([[lon, lat]])).double()[0], torch.tensor(equal_earth_by_hand(lon, lat), dtype=torch.float64), atol=1e-6, rtol=1e-5)


@pytest.fixture(scope="module")
def geoclip():
    if not AVAILABLE:
        pytest.skip(REASON)
    return load_pretrained_geoclip()


@pytest.fixture(scope="module")
def raw_state():
    return torch.load(pretrained.geoclip_weights_path(), map_location="cpu", weights_only=True)


@needs_weights
def test_fourier_features_by_hand(geoclip, raw_state):
    x, y = equal_earth_by_hand(*PARIS)
    features = geoclip.encoding.fourier_features(torch.tensor([PARIS])).double()
    for branch in range(3):
        b = raw_state[f"LocEnc{branch}.capsule.0.b"].double()
        phase = 2 * math.pi * (b[:, 0] * x + b[:, 1] * y)
        torch.testing.assert_close(features[branch, 0], torch.cat([phase.cos(), phase.sin()]), atol=2e-3, rtol=0)


@needs_weights
def test_embedding_equals_geoclip_computed_from_its_own_keys(geoclip, raw_state):
    """GeoCLIP's forward written out from its state-dict keys, fed (lat, lon) as GeoCLIP expects."""
    latlon = torch.tensor([[PARIS[1], PARIS[0]], [SYDNEY[1], SYDNEY[0]]])
    projected = torch.tensor([equal_earth_by_hand(lon, lat) for lat, lon in latlon.tolist()])
    expected = torch.zeros(2, 512)
    for i in range(3):
        w = {k.split(".", 1)[1]: v for k, v in raw_state.items() if k.startswith(f"LocEnc{i}.")}
        phase = 2 * math.pi * projected @ w["capsule.0.b"].T
        h = torch.cat([phase.cos(), phase.sin()], dim=1)
        for layer in (1, 3, 5):
            h = torch.relu(F.linear(h, w[f"capsule.{layer}.weight"], w[f"capsule.{layer}.bias"]))
        expected += F.linear(h, w["head.0.weight"], w["head.0.bias"])
    with torch.inference_mode():
        actual = geoclip.encode(latlon=latlon.numpy())
    torch.testing.assert_close(actual, expected, atol=1e-3, rtol=1e-3)


@needs_weights
def test_nearby_places_are_more_similar(geoclip):
    with torch.inference_mode():
        paris, london, sydney = F.normalize(geoclip(torch.tensor([PARIS, LONDON, SYDNEY])), dim=1)
    assert paris.shape == (512,) and torch.isfinite(paris).all()
    assert float(paris @ london) > float(paris @ sydney)


def test_missing_wheel_is_reported_not_raised(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(pretrained.metadata, "distribution", not_installed)
    available, reason = geoclip_status()
    assert not available and "not installed" in reason
    row = next(r for r in list_encoders() if r["kind"] == "pretrained" and r["name"] == "geoclip")
    assert row["available"] is False and "not installed" in row["reason"]
    with pytest.raises(pretrained.PretrainedUnavailable):
        load_pretrained_geoclip()


def test_unexpected_keys_are_refused():
    with pytest.raises(KeyError, match="LocEnc0.extra"):
        pretrained.map_geoclip_state_dict({"LocEnc0.extra.weight": torch.zeros(1)}, num_layers=3)

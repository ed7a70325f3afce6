"""Each formula against values computed by hand (math module, float64) for a few points; the float64 path
against the same formulas at the registry defaults."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.special import sph_harm_y

from core.location import ENCODINGS, build_location_encoder
from core.location.encodings.harmonics import SphericalHarmonicsEncoding
from core.location.encodings.nerf import NeRFEncoding
from core.location.encodings.rbf import RBFEncoding
from core.location.encodings.rff import RFFEncoding
from core.location.encodings.space2vec import Space2VecEncoding
from core.location.encodings.sphere2vec import Sphere2VecEncoding
from core.location.encodings.tile import TileEncoding
from core.location.encodings.wrap import WrapEncoding
from core.location.encodings.xyz import XYZEncoding
from core.location.scales import geometric_scales

POINTS = [(30.0, 45.0), (-120.5, -33.25), (179.0, 89.0)]


def encode(module, lon, lat):
    with torch.inference_mode():
        return module(torch.tensor([[lon, lat]])).double()[0]


def close(actual, expected, atol=1e-5):
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=torch.float64), atol=atol, rtol=1e-4)


def test_geometric_scales_match_the_csp_ladder():
    scales = geometric_scales(32, 0.1, 360.0).double()
    assert scales[0].item() == pytest.approx(0.1) and scales[-1].item() == pytest.approx(360.0, rel=1e-6)
    assert scales[5].item() == pytest.approx(0.1 * 3600 ** (5 / 31), rel=1e-6)


@pytest.mark.parametrize("lon, lat", POINTS)
def test_wrap(lon, lat):
    close(encode(WrapEncoding(), lon, lat), [math.sin(math.pi * lon / 180), math.cos(math.pi * lon / 180), math.sin(math.pi * lat / 90), math.cos(math.pi * lat / 90)])


def test_tile_lights_the_cell_of_the_point():
    tile = TileEncoding(cell_size=10.0)
    assert tile.out_dim == 18 * 36
    for (lon, lat), index in [((-175.0, -85.0), 0), ((5.0, 12.0), 10 * 36 + 18), ((-180.0, 90.0), 17 * 36), ((179.9, 0.0), 9 * 36 + 35)]:
        features = encode(tile, lon, lat)
        assert features.sum() == 1 and features[index] == 1, (lon, lat)
    with pytest.raises(ValueError, match="cell_size"):
        TileEncoding(cell_size=7.0)


@pytest.mark.parametrize("lon, lat", POINTS)
def test_xyz(lon, lat):
    lam, phi = math.radians(lon), math.radians(lat)
    close(encode(XYZEncoding(), lon, lat), [math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)])


def test_rbf_is_a_gaussian_of_the_chord():
    rbf = RBFEncoding(torch.tensor([[0.0, 0.0], [90.0, 0.0], [0.0, 90.0], [30.0, 45.0]]), kernel_size=20.0)
    s = 2 * math.sin(math.radians(10.0))
    for lon, lat in POINTS:
        expected = []
        for c_lon, c_lat in [(0.0, 0.0), (90.0, 0.0), (0.0, 90.0), (30.0, 45.0)]:
            cos_d = math.sin(math.radians(lat)) * math.sin(math.radians(c_lat)) + math.cos(math.radians(lat)) * math.cos(math.radians(c_lat)) * math.cos(math.radians(lon - c_lon))
            chord2 = 2 - 2 * cos_d
            expected.append(math.exp(-chord2 / (2 * s * s)))
        close(encode(rbf, lon, lat), expected)


def test_rff_uses_its_seeded_frequencies():
    rff = RFFEncoding(num_frequencies=4, sigma=3.0, seed=7)
    assert torch.equal(rff.frequencies, RFFEncoding(num_frequencies=4, sigma=3.0, seed=7).frequencies)
    assert not torch.equal(rff.frequencies, RFFEncoding(num_frequencies=4, sigma=3.0, seed=8).frequencies)
    b = rff.frequencies.double().tolist()
    for lon, lat in POINTS:
        lam, phi = math.radians(lon), math.radians(lat)
        p = (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))
        phases = [2 * math.pi * sum(bi * pi for bi, pi in zip(row, p)) for row in b]
        close(encode(rff, lon, lat), [math.cos(a) for a in phases] + [math.sin(a) for a in phases], atol=1e-4)


def nerf_by_hand(lon, lat, octaves):
    expected = []
    for v in (lon / 180, lat / 90):
        for k in range(octaves):
            expected += [math.sin(2**k * math.pi * v), math.cos(2**k * math.pi * v)]
    return expected


@pytest.mark.parametrize("lon, lat", POINTS)
def test_nerf(lon, lat):
    close(encode(NeRFEncoding(num_frequencies=3), lon, lat), nerf_by_hand(lon, lat, 3))


SCALES = (1.0, 10.0, 100.0)  # S = 3, r_min = 1, r_max = 100


def space2vec_by_hand(variant, lon, lat, scales):
    directions = [(1, 0), (0, 1)] if variant == "grid" else [(1, 0), (-0.5, math.sqrt(3) / 2), (-0.5, -math.sqrt(3) / 2)]
    expected = []
    for a1, a2 in directions:
        for scale in scales:
            angle = (a1 * lon + a2 * lat) / scale
            expected += [math.sin(angle), math.cos(angle)]
    return expected


@pytest.mark.parametrize("variant", ["grid", "theory"])
@pytest.mark.parametrize("lon, lat", POINTS)
def test_space2vec(variant, lon, lat):
    close(encode(Space2VecEncoding(variant, 3, 1.0, 100.0), lon, lat), space2vec_by_hand(variant, lon, lat, SCALES), atol=1e-4)


def sphere2vec_by_hand(variant, lon, lat, scales):
    phi, theta = math.radians(lat), math.radians(lon)
    ps, ts = [phi / s for s in scales], [theta / s for s in scales]
    sin, cos = math.sin, math.cos
    grid_rest = [cos(p) for p in ps] + [sin(t) for t in ts] + [cos(t) for t in ts]
    if variant.startswith("sphereC"):
        blocks = [sin(p) for p in ps] + [cos(p) * cos(t) for p, t in zip(ps, ts)] + [cos(p) * sin(t) for p, t in zip(ps, ts)]
    elif variant.startswith("sphereM"):
        blocks = (
            [sin(p) for p in ps] + [cos(p) * cos(theta) for p in ps] + [cos(phi) * cos(t) for t in ts]
            + [cos(p) * sin(theta) for p in ps] + [cos(phi) * sin(t) for t in ts]
        )
    else:
        blocks = [sin(p) for p in ps] + [cos(p) for p in ps] + [sin(t) for t in ts] + [cos(t) for t in ts]
        for p in ps:
            for t in ts:
                blocks += [cos(p) * cos(t), cos(p) * sin(t), sin(p) * cos(t), sin(p) * sin(t)]
        return blocks
    return blocks + grid_rest if variant.endswith("+") else blocks


@pytest.mark.parametrize("variant", ["sphereC", "sphereC+", "sphereM", "sphereM+", "dfs"])
@pytest.mark.parametrize("lon, lat", POINTS)
def test_sphere2vec(variant, lon, lat):
    module = Sphere2VecEncoding(variant, num_scales=2, r_min=0.5, r_max=1.0)
    expected = sphere2vec_by_hand(variant, lon, lat, (0.5, 1.0))
    assert module.out_dim == len(expected)
    close(encode(module, lon, lat), expected)


@pytest.mark.parametrize("lon, lat", POINTS)
def test_spherical_harmonics_low_degrees(lon, lat):
    lam, phi = math.radians(lon), math.radians(lat)
    x, y, z = math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)
    c1, c2 = math.sqrt(3 / (4 * math.pi)), 0.5 * math.sqrt(15 / math.pi)
    expected = [  # order l² + l + m: Y00; Y1-1 Y10 Y11; Y2-2 Y2-1 Y20 Y21 Y22 (no Condon–Shortley phase)
        1 / math.sqrt(4 * math.pi),
        c1 * y, c1 * z, c1 * x,
        c2 * x * y, c2 * y * z, 0.25 * math.sqrt(5 / math.pi) * (3 * z * z - 1), c2 * x * z, 0.5 * c2 * (x * x - y * y),
    ]
    close(encode(SphericalHarmonicsEncoding(degree=3), lon, lat), expected)


# --- the float64 path: the registry defaults, at their finest scales (angles up to ~3 000 rad) --------------


def real_harmonics_by_hand(lon, lat, degree):
    """Real Y_l^m without the Condon–Shortley phase, from scipy's complex ones (which carry it)."""
    theta, phi = math.radians(90.0 - lat), math.radians(lon)
    values = []
    for l in range(degree):
        for m in range(-l, l + 1):
            y = complex(sph_harm_y(l, abs(m), theta, phi))
            values.append(y.real if m == 0 else math.sqrt(2) * (-1) ** m * (y.real if m > 0 else y.imag))
    return values


def default_scales(name):
    params = ENCODINGS[name].params
    return geometric_scales(params["num_scales"].default, params["r_min"].default, params["r_max"].default).tolist()


BY_HAND = {
    "wrap": lambda lon, lat: [math.sin(math.pi * lon / 180), math.cos(math.pi * lon / 180), math.sin(math.pi * lat / 90), math.cos(math.pi * lat / 90)],
    "nerf": lambda lon, lat: nerf_by_hand(lon, lat, 10),
    "grid": lambda lon, lat: space2vec_by_hand("grid", lon, lat, default_scales("grid")),
    "theory": lambda lon, lat: space2vec_by_hand("theory", lon, lat, default_scales("theory")),
    **{name: (lambda lon, lat, name=name: sphere2vec_by_hand(name, lon, lat, default_scales(name))) for name in ("sphereC", "sphereC+", "sphereM", "sphereM+", "dfs")},
    "spherical_harmonics": lambda lon, lat: real_harmonics_by_hand(lon, lat, 10),
}
FINE_POINTS = [(179.3, 88.7), (-120.5, -33.25), (0.004, 0.0021), (-179.99, -89.9)]


def features(name, precision, points):
    encoder = build_location_encoder({"encoding": name, "network": "identity", "precision": precision})
    with torch.inference_mode():
        return encoder.features(torch.tensor(points, dtype=torch.float64))


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_float64_path_matches_the_float64_formula_to_1e_6(name):
    values = features(name, "float64", FINE_POINTS)
    assert values.dtype == torch.float64
    expected = torch.tensor([BY_HAND[name](lon, lat) for lon, lat in FINE_POINTS], dtype=torch.float64)
    torch.testing.assert_close(values, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["grid", "sphereM+", "dfs"])
def test_float32_path_is_what_the_float64_path_is_for(name):
    expected = torch.tensor([BY_HAND[name](lon, lat) for lon, lat in FINE_POINTS], dtype=torch.float64)
    error = (features(name, "float32", FINE_POINTS).double() - expected).abs().max()
    assert 1e-5 < error < 1e-3  # float32 rounding of arguments up to ~3 000 rad; the float64 path is within 1e-6

"""What exists: positional encodings, networks and pretrained encoders, with defaults and one-line
descriptions (the app's pickers read :func:`list_encoders`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from core.coords import sample_sphere, validate_lonlat
from core.location import networks
from core.location.encodings.geoclip import GeoCLIPEncoding
from core.location.encodings.harmonics import MAX_DEGREE, SphericalHarmonicsEncoding, degree_error
from core.location.encodings.multires import MultiResolutionEncoding, table_size_error
from core.location.encodings.nerf import NeRFEncoding
from core.location.encodings.rbf import RBFEncoding, kernel_size_error
from core.location.encodings.rff import RFFEncoding
from core.location.encodings.space2vec import Space2VecEncoding
from core.location.encodings.sphere2vec import Sphere2VecEncoding
from core.location.encodings.tile import TileEncoding, cell_size_error
from core.location.encodings.wrap import WrapEncoding
from core.location.encodings.xyz import XYZEncoding
from core.location.params import Param, at_least, one_of, positive

EncodingFactory = Callable[[dict[str, Any], torch.Tensor | None, torch.dtype], nn.Module]


@dataclass(frozen=True)
class EncodingSpec:
    """A registered positional encoding: ``factory(params, train_lonlat, dtype)`` builds the module, computing in ``dtype``."""

    name: str
    description: str
    factory: EncodingFactory
    params: dict[str, Param] = field(default_factory=dict)
    default_network: str = "fcnet"


@dataclass(frozen=True)
class NetworkSpec:
    """A registered network: ``cls(in_dim, out_dim, **params)``."""

    name: str
    description: str
    cls: Callable[..., nn.Module]
    params: dict[str, Param] = field(default_factory=dict)


def _rbf_centers(params: dict[str, Any], train_lonlat: torch.Tensor | None) -> torch.Tensor:
    """The given centres, else ``num_centers`` drawn (seeded) from the training locations, else uniform on the sphere (float64)."""
    if params["centers"] is not None:
        return torch.tensor(validate_lonlat(lonlat=params["centers"]), dtype=torch.float64)
    generator = torch.Generator().manual_seed(params["seed"])
    if train_lonlat is not None:
        points = torch.as_tensor(validate_lonlat(lonlat=train_lonlat), dtype=torch.float64)
        count = params["num_centers"]
        chosen = torch.randperm(len(points), generator=generator)[:count] if len(points) >= count else torch.randint(len(points), (count,), generator=generator)
        return points[chosen]
    return torch.tensor(sample_sphere(params["num_centers"], np.random.default_rng(params["seed"])), dtype=torch.float64)


def _plain(cls: Callable[..., nn.Module], **fixed: Any) -> EncodingFactory:
    """A factory passing the resolved params (plus ``fixed`` ones) and the dtype to ``cls``; training locations unused."""
    return lambda params, _train_lonlat, dtype: cls(**fixed, **params, dtype=dtype)


_SPACE2VEC_SCALES = {
    "num_scales": Param(32, "number of scales S", "int", at_least(1)),
    "r_min": Param(0.1, "smallest scale λ_0 in degrees", "float", positive),
    "r_max": Param(360.0, "largest scale λ_{S-1} in degrees", "float", positive),
}


def _sphere_scales(num_scales: int) -> dict[str, Param]:
    return {
        "num_scales": Param(num_scales, "number of scales S", "int", at_least(1)),
        "r_min": Param(0.001, "smallest scale λ_0 in radians", "float", positive),
        "r_max": Param(1.0, "largest scale λ_{S-1} in radians", "float", positive),
    }


_SPHERE2VEC = {
    "sphereC": "Sphere2Vec sphereC: [sin φ_s, cos φ_s cos θ_s, cos φ_s sin θ_s] over S scales (3S)",
    "sphereC+": "Sphere2Vec sphereC+: sphereC plus grid terms cos φ_s, sin/cos θ_s (6S)",
    "sphereM": "Sphere2Vec sphereM: scaled angles mixed with the plain ones (5S)",
    "sphereM+": "Sphere2Vec sphereM+: sphereM plus grid terms cos φ_s, sin/cos θ_s (8S)",
    "dfs": "Sphere2Vec double Fourier sphere: all products of lat and lon sinusoids (4S + 4S²)",
}

ENCODINGS: dict[str, EncodingSpec] = {
    spec.name: spec
    for spec in [
        EncodingSpec("wrap", "geo_prior wrap: sin/cos of lon/180·π and lat/90·π (4 features), with FCNet", _plain(WrapEncoding)),
        EncodingSpec("wrap_ffn", "CSP wrap + ffn: the wrap features with Space2Vec's feed-forward net (mlp)", _plain(WrapEncoding), default_network="mlp"),
        EncodingSpec(
            "tile", "one-hot of the lat/lon grid cell the point falls in (baseline)", _plain(TileEncoding),
            {"cell_size": Param(10.0, "cell edge in degrees (a divisor of 180)", "float", cell_size_error)},
        ),
        EncodingSpec("xyz", "3-D unit vector on the sphere (3 features)", _plain(XYZEncoding)),
        EncodingSpec(
            "rbf", "Gaussian kernels around M centres from the training locations (or the given ones)",
            lambda params, train, dtype: RBFEncoding(_rbf_centers(params, train), params["kernel_size"], dtype=dtype),
            {
                "num_centers": Param(200, "number of centres M (ignored when centers are given)", "int", at_least(1)),
                "kernel_size": Param(10.0, "kernel width as a great-circle angle in degrees", "float", kernel_size_error),
                "seed": Param(0, "seed for drawing the centres", "int"),
                "centers": Param(None, "explicit centres as [[lon, lat], ...] degrees, or null to draw them", "lonlat_list"),
            },
        ),
        EncodingSpec(
            "rff", "random Fourier features cos/sin(2π B·xyz), B ~ N(0, σ²), seeded", _plain(RFFEncoding),
            {
                "num_frequencies": Param(256, "number of frequencies F (2F features)", "int", at_least(1)),
                "sigma": Param(2.0, "standard deviation σ of the frequencies", "float", positive),
                "seed": Param(0, "seed for the frequency matrix", "int"),
            },
        ),
        EncodingSpec(
            "nerf", "NeRF: sin/cos(2^k·π·v) for v = (lon/180, lat/90), k < K (4K features)", _plain(NeRFEncoding),
            {"num_frequencies": Param(10, "number of octaves K", "int", at_least(1))},
        ),
        EncodingSpec("grid", "Space2Vec grid: sin/cos(lon/λ_s), sin/cos(lat/λ_s) over S scales (4S)", _plain(Space2VecEncoding, variant="grid"), _SPACE2VEC_SCALES),
        EncodingSpec("theory", "Space2Vec theory: sin/cos(<x, a_j>/λ_s) on 3 directions 120° apart (6S)", _plain(Space2VecEncoding, variant="theory"), _SPACE2VEC_SCALES),
        *(
            EncodingSpec(name, description, _plain(Sphere2VecEncoding, variant=name), _sphere_scales(16 if name == "dfs" else 32))
            for name, description in _SPHERE2VEC.items()
        ),
        EncodingSpec(
            "spherical_harmonics", "SatCLIP: real orthonormal spherical harmonics Y_l^m, l < L (L² features), with SIREN",
            _plain(SphericalHarmonicsEncoding),
            {"degree": Param(10, f"number of degrees L (1..{MAX_DEGREE})", "int", degree_error)},
            default_network="siren",
        ),
        EncodingSpec(
            "multires",
            "spherical harmonics (L² features) beside a learned multi-resolution hash grid over the unit sphere "
            "(Instant-NGP style, cells from ~1 000 km to ~50 km): detail where the training data is dense",
            _plain(MultiResolutionEncoding),
            {
                "degree": Param(10, f"number of harmonic degrees L (1..{MAX_DEGREE})", "int", degree_error),
                "levels": Param(6, "hash-grid levels (resolutions)", "int", at_least(1)),
                "features_per_level": Param(2, "learned features per level", "int", at_least(1)),
                "log2_table_size": Param(18, "log2 of the rows of each level's table", "int", table_size_error),
                "coarsest_km": Param(1000.0, "cell edge of the coarsest level in km", "float", positive),
                "finest_km": Param(50.0, "cell edge of the finest level in km (<= coarsest_km)", "float", positive),
            },
        ),
        EncodingSpec(
            "geoclip", "GeoCLIP: Equal Earth, RFF at σ ∈ {1, 16, 256}, one MLP per σ, summed (carries its own network)",
            _plain(GeoCLIPEncoding),
            {
                "sigmas": Param([1.0, 16.0, 256.0], "RFF standard deviations, one branch each", "floats", lambda v: None if all(s > 0 for s in v) else "must all be > 0"),
                "num_frequencies": Param(256, "frequencies per branch F (2F features)", "int", at_least(1)),
                "hidden_dim": Param(1024, "width of each branch MLP", "int", at_least(1)),
                "num_layers": Param(3, "hidden (Linear, ReLU) layers per branch", "int", at_least(0)),
                "embed_dim": Param(512, "output features (sum of the branch heads)", "int", at_least(1)),
                "seed": Param(0, "seed for the frequency matrices (branch i uses seed + i)", "int"),
            },
            default_network="identity",
        ),
    ]
}
"""The positional encodings by name, each an :class:`EncodingSpec` (description, factory, params with their
defaults, default network). ``LocationEncoderConfig.encoding`` names one; :func:`list_encoders` lists them."""

_ACT = Param("relu", "activation", "str", one_of(*networks.ACTIVATIONS))
_DROPOUT = Param(0.5, "dropout probability", "float", lambda v: None if 0 <= v < 1 else "must be in [0, 1)")

NETWORKS: dict[str, NetworkSpec] = {
    spec.name: spec
    for spec in [
        NetworkSpec("linear", "one linear layer", nn.Linear),
        NetworkSpec(
            "fcnet", "geo_prior/CSP FCNet: Linear, act, residual (Linear, act, dropout, Linear, act) blocks, Linear head", networks.FCNet,
            {"hidden_dim": Param(256, "width", "int", at_least(1)), "num_blocks": Param(4, "residual blocks", "int", at_least(0)), "dropout": _DROPOUT, "act": _ACT},
        ),
        NetworkSpec(
            "fcnet_single", "FCNet with one-Linear residual (Linear, act, dropout) blocks (GeoCSP's earlier fcnet)",
            functools.partial(networks.FCNet, linear_layers=1),
            {"hidden_dim": Param(256, "width", "int", at_least(1)), "num_blocks": Param(2, "residual blocks", "int", at_least(0)), "dropout": _DROPOUT, "act": _ACT},
        ),
        NetworkSpec(
            "mlp", "Space2Vec/CSP feed-forward net: (Linear, act, dropout, skip, LayerNorm) layers, Linear head", networks.FeedForward,
            {
                "hidden_dim": Param(256, "width", "int", at_least(1)),
                "num_hidden_layers": Param(1, "hidden layers", "int", at_least(0)),
                "dropout": _DROPOUT,
                "act": _ACT,
                "layer_norm": Param(True, "LayerNorm after each hidden layer", "bool"),
                "skip_connection": Param(True, "residual connection where widths agree", "bool"),
            },
        ),
        NetworkSpec(
            "siren", "SIREN: sine layers (ω0 = 30 first), SIREN init, Linear head", networks.Siren,
            {
                "hidden_dim": Param(256, "width", "int", at_least(1)),
                "num_layers": Param(2, "sine layers", "int", at_least(1)),
                "omega_first": Param(30.0, "ω0 of the first sine layer", "float", positive),
                "omega_hidden": Param(1.0, "ω of the later sine layers", "float", positive),
            },
        ),
        NetworkSpec("identity", "no network: the encoding's own output (for geoclip)", networks.IdentityNetwork),
    ]
}

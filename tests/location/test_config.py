"""Config round trips, defaults, registry listing and errors that name the bad key."""

from __future__ import annotations

import pytest
import torch

from core.location import (
    DEFAULT_OUTPUT_DIM,
    ENCODINGS,
    NETWORKS,
    ConfigError,
    LocationEncoderConfig,
    build_location_encoder,
    list_encoders,
)


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_round_trips_through_dict_json_and_yaml(name):
    config = LocationEncoderConfig(encoding=name)
    assert LocationEncoderConfig.from_dict(config.to_dict()) == config
    assert LocationEncoderConfig.from_json(config.to_json()) == config
    assert LocationEncoderConfig.from_yaml(config.to_yaml()) == config


def test_defaults_are_filled_in_and_explicit():
    config = LocationEncoderConfig(encoding="grid", encoding_params={"num_scales": 8})
    assert config.encoding_params == {"num_scales": 8, "r_min": 0.1, "r_max": 360.0}
    assert config.network == "fcnet" and config.network_params["hidden_dim"] == 256
    assert config.output_dim == DEFAULT_OUTPUT_DIM
    assert LocationEncoderConfig(encoding="spherical_harmonics").network == "siren"
    assert LocationEncoderConfig(encoding="wrap_ffn").network == "mlp"
    assert LocationEncoderConfig(encoding="geoclip").output_dim is None


def test_a_yaml_written_by_hand_builds():
    text = "encoding: sphereM+\nencoding_params: {num_scales: 4, r_min: 0.01}\nnetwork: siren\noutput_dim: 16\n"
    encoder = build_location_encoder(LocationEncoderConfig.from_yaml(text))
    assert encoder(torch.tensor([[2.35, 48.86]])).shape == (1, 16)
    assert encoder.encoding.out_dim == 32


@pytest.mark.parametrize(
    "values, key",
    [
        ({"encoding": "grid", "colour": 1}, "colour"),
        ({"encoding": "gridd"}, "encoding"),
        ({"encoding": "grid", "network": "transformer"}, "network"),
        ({"encoding": "grid", "encoding_params": {"num_scale": 8}}, "num_scale"),
        ({"encoding": "grid", "encoding_params": {"num_scales": 0}}, "encoding_params.num_scales"),
        ({"encoding": "grid", "encoding_params": {"num_scales": 2.5}}, "encoding_params.num_scales"),
        ({"encoding": "grid", "encoding_params": {"r_min": -1}}, "encoding_params.r_min"),
        ({"encoding": "tile", "encoding_params": {"cell_size": 7}}, "encoding_params.cell_size"),
        ({"encoding": "rbf", "encoding_params": {"centers": [[0, 95]]}}, "encoding_params.centers"),
        ({"encoding": "geoclip", "encoding_params": {"sigmas": []}}, "encoding_params.sigmas"),
        ({"encoding": "spherical_harmonics", "encoding_params": {"degree": 99}}, "encoding_params.degree"),
        ({"encoding": "grid", "network_params": {"dropout": 1.5}}, "network_params.dropout"),
        ({"encoding": "grid", "network_params": {"act": "swish"}}, "network_params.act"),
        ({"encoding": "grid", "network_params": {"layers": 3}}, "layers"),
        ({"encoding": "grid", "output_dim": 0}, "output_dim"),
        ({"encoding": "grid", "output_dim": True}, "output_dim"),
    ],
)
def test_unknown_keys_and_bad_values_name_the_key(values, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_location_encoder(values)


def test_identity_network_needs_matching_output_dim():
    with pytest.raises(ConfigError, match="output_dim"):
        build_location_encoder({"encoding": "wrap", "network": "identity", "output_dim": 8})
    assert build_location_encoder({"encoding": "wrap", "network": "identity"}).output_dim == 4


def test_yaml_unknown_key_is_refused():
    with pytest.raises(ConfigError, match="hidden"):
        LocationEncoderConfig.from_yaml("encoding: xyz\nhidden: 3\n")


def test_list_encoders_covers_the_registry():
    rows = list_encoders()
    by_kind = {kind: {r["name"]: r for r in rows if r["kind"] == kind} for kind in ("encoding", "network", "pretrained")}
    assert set(by_kind["encoding"]) == set(ENCODINGS) == {
        "wrap", "wrap_ffn", "tile", "xyz", "rbf", "rff", "nerf", "grid", "theory",
        "sphereC", "sphereC+", "sphereM", "sphereM+", "dfs", "spherical_harmonics", "multires", "geoclip",
    }
    assert set(by_kind["network"]) == set(NETWORKS) >= {"linear", "fcnet", "mlp", "siren"}
    assert by_kind["encoding"]["grid"]["defaults"] == {"num_scales": 32, "r_min": 0.1, "r_max": 360.0}
    assert all(row["description"] and "\n" not in row["description"] for row in rows)
    assert "geoclip" in by_kind["pretrained"]


def test_rbf_centres_come_from_training_locations_when_given():
    train = torch.tensor([[10.0, 10.0], [20.0, -5.0], [30.0, 40.0]])
    encoder = build_location_encoder({"encoding": "rbf", "encoding_params": {"num_centers": 2, "seed": 3}}, train_lonlat=train)
    centers = encoder.encoding.centers
    assert centers.shape == (2, 2)
    assert all(any(torch.equal(c, t) for t in train) for c in centers)
    again = build_location_encoder({"encoding": "rbf", "encoding_params": {"num_centers": 2, "seed": 3}}, train_lonlat=train)
    assert torch.equal(again.encoding.centers, centers)
    given = build_location_encoder({"encoding": "rbf", "encoding_params": {"centers": [[0, 0], [370, 10]]}})
    assert given.encoding.centers.tolist() == [[0.0, 0.0], [10.0, 10.0]]

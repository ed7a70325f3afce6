"""Embeddings by name: parsing, baselines, bare encodings and the layers of an encoder."""

import numpy as np
import pytest
import torch

from core.location import build_location_encoder
from core.probes import EmbeddingError, embed, parse_embedding
from core.probes.embeddings import encode_layer
from tests.workflows.test_predict import tiny_runs  # noqa: F401 — a module fixture: two tiny trained runs

POINTS = np.array([[2.35, 48.86], [-74.0, 40.7], [179.9, -89.0]])


@pytest.mark.parametrize("text", ["lonlat", "xyz", "geoclip", "encoding:spherical_harmonics:degree=10", "untrained:theory", "run:runs/x:concat", "model:data/models/m:penultimate"])
def test_labels_parse_back_to_the_same_spec(text):
    spec = parse_embedding(text)
    assert parse_embedding(spec.label if spec.kind not in ("run", "model") else f"{spec.kind}:{spec.name}:{spec.layer}") == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [("pixels", "unknown embedding"), ("encoding:nope", "unknown encoding 'nope'"), ("xyz:3", "takes no options"),
     ("encoding:theory:num_scales", "not key=value"), ("run:", "give a run folder"), ("model:", "give a model folder")],
)
def test_malformed_names_say_why(text, message):
    with pytest.raises(EmbeddingError, match=message):
        parse_embedding(text)


def test_baselines_and_bare_encodings():
    assert np.allclose(embed("lonlat", POINTS), POINTS)
    xyz = embed("xyz", POINTS)
    assert xyz.shape == (3, 3) and np.allclose(np.linalg.norm(xyz, axis=1), 1, atol=1e-6)
    assert embed("encoding:spherical_harmonics:degree=4", POINTS).shape == (3, 16)
    assert embed("encoding:wrap", POINTS).shape == (3, 4)
    with pytest.raises(EmbeddingError, match="degree"):
        embed("encoding:spherical_harmonics:degree=0", POINTS)
    with pytest.raises(EmbeddingError, match="not a GeoCSP run"):
        embed("run:/nonexistent/run", POINTS)


def test_layers_of_an_encoder():
    torch.manual_seed(0)
    encoder = build_location_encoder({"encoding": "wrap", "network_params": {"hidden_dim": 32}, "output_dim": 8}).eval()
    output = encode_layer(encoder, POINTS, "output")
    assert np.allclose(output, encoder.encode(lonlat=POINTS).detach().numpy(), atol=1e-6)
    assert encode_layer(encoder, POINTS, "encoding").shape == (3, 4)
    assert encode_layer(encoder, POINTS, "penultimate").shape == (3, 32)
    concat = encode_layer(encoder, POINTS, "concat")
    assert concat.shape == (3, 12) and np.allclose(concat[:, 4:], output, atol=1e-6)
    assert np.allclose(encode_layer(encoder, POINTS), output, atol=1e-6), "the default is the encoder's own embedding layer"
    concat_encoder = build_location_encoder(
        {"encoding": "wrap", "network_params": {"hidden_dim": 32}, "output_dim": 8, "embedding": "concat"}
    ).eval()
    concat_encoder.load_state_dict(encoder.state_dict())
    assert np.allclose(encode_layer(concat_encoder, POINTS), concat, atol=1e-6), "a concat run is probed as concat"


def test_a_trained_runs_layers(tiny_runs):  # noqa: F811
    from core.location import loading as encoders

    encoder = encoders.run_location_encoder(tiny_runs.location)
    run = f"run:{tiny_runs.location}"
    assert np.allclose(embed(run, POINTS), encoder.encode(lonlat=POINTS).detach().numpy(), atol=1e-5)
    assert embed(f"{run}:encoding", POINTS).shape == (3, 6 * 4)  # theory, 4 scales
    assert embed(f"{run}:penultimate", POINTS).shape == (3, 32)
    assert embed(f"{run}:concat", POINTS).shape == (3, 24 + encoder.output_dim)
    assert parse_embedding(f"{run}:concat").label == f"run:{tiny_runs.location.name}:concat"


def test_an_exported_model_folder_is_probed_like_its_run(tiny_runs, tmp_path):  # noqa: F811
    from core.location.export import export_encoder

    folder = export_encoder(tiny_runs.location, tmp_path / "model", formats=())
    for layer in ("embedding", "penultimate", "concat"):
        np.testing.assert_allclose(embed(f"model:{folder}:{layer}", POINTS), embed(f"run:{tiny_runs.location}:{layer}", POINTS), atol=1e-6)
    assert parse_embedding(f"model:{folder}").label == "model:model"


def test_a_runs_own_recipe_untrained(tiny_runs):  # noqa: F811
    """``untrained:run:PATH`` is the run's encoder and embedding layer at random weights from the run's seed."""
    from core.train.config import load_config

    config = load_config(tiny_runs.location / "config.yaml")
    torch.manual_seed(config.seed)
    fresh = build_location_encoder(config.location_config()).eval()
    untrained = embed(f"untrained:run:{tiny_runs.location}", POINTS)
    assert np.allclose(untrained, fresh.embed(torch.as_tensor(POINTS, dtype=torch.float32)).detach().numpy(), atol=1e-6)
    assert untrained.shape == embed(f"run:{tiny_runs.location}", POINTS).shape
    assert not np.allclose(untrained, embed(f"run:{tiny_runs.location}", POINTS), atol=1e-3)
    assert parse_embedding(f"untrained:run:{tiny_runs.location}").label == f"untrained:run:{tiny_runs.location.name}"
    with pytest.raises(EmbeddingError, match="give a run folder"):
        parse_embedding("untrained:run:")
    with pytest.raises(EmbeddingError, match="not a GeoCSP run"):
        embed("untrained:run:/nonexistent/run", POINTS)


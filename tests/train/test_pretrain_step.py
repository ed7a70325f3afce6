"""The fused pre-training step (one network pass over positives, negatives and the SimCSE view, cached
encodings, the loss normalising each embedding once) gives the loss and gradients of the
straightforward formulation: three separate forwards, encodings computed per step, DESIGN.md's
formula term by term."""

import pytest
import torch
import torch.nn.functional as F

from core.location.encoder import build_location_encoder
from core.objectives import MCSSLWeights
from core.train.config import RunConfig
from core.train.tasks import CSPModel, PretrainTask, cached_encodings

SMALL_GEOCLIP = {
    "encoding": "geoclip",
    "encoding_params": {"sigmas": [1.0, 16.0], "num_frequencies": 8, "hidden_dim": 16, "num_layers": 1, "embed_dim": 16},
}
NO_DROPOUT = {"dropout": 0.0}


def straightforward_mcssl(model: CSPModel, lonlat, features, negatives, weights: MCSSLWeights) -> torch.Tensor:
    """MC-SSL written out: separate forwards, each embedding normalised where it is used, logits / τ."""
    location = F.normalize(model.location(lonlat), dim=-1)
    image = F.normalize(model.projection(features), dim=-1)
    negative = F.normalize(model.location(negatives.reshape(-1, 2)).reshape(*negatives.shape[:2], -1), dim=-1)
    second = F.normalize(model.location(lonlat), dim=-1)
    targets = torch.arange(len(location))
    in_batch = F.cross_entropy(location @ image.T / weights.tau_in_batch, targets)
    logits = torch.cat([(location * image).sum(-1, keepdim=True), torch.einsum("bkd,bd->bk", negative, image)], 1)
    negative_location = F.cross_entropy(logits / weights.tau_negative_location, torch.zeros_like(targets))
    simcse = F.cross_entropy(location @ second.T / weights.tau_simcse, targets)
    return weights.in_batch * in_batch + weights.negative_location * negative_location + weights.simcse * simcse


@pytest.mark.parametrize(
    "location",
    [
        {"encoding": "theory", "encoding_params": {"num_scales": 8}, "network": "fcnet", "network_params": {"hidden_dim": 32, **NO_DROPOUT}},
        {"encoding": "theory", "encoding_params": {"num_scales": 8}, "network": "mlp", "network_params": {"hidden_dim": 32, **NO_DROPOUT}},
        {"encoding": "rbf", "encoding_params": {"num_centers": 16}, "network_params": {"hidden_dim": 32, "num_blocks": 0}},
        {"encoding": "sphereC", "encoding_params": {"num_scales": 4}, "network": "siren", "network_params": {"hidden_dim": 32}},
        SMALL_GEOCLIP,
    ],
    ids=["theory-fcnet", "theory-mlp", "rbf-linear-head", "sphereC-siren", "geoclip"],
)
def test_the_fused_step_gives_the_loss_and_gradients_of_separate_passes(small_data, location):
    config = RunConfig.from_dict(
        {
            "batch_size": 64, "location": location, "data": {"image_encoder": "small_cnn"},
            "pretrain": {"num_negatives": 3, "negative_location": 0.5, "simcse": 2.0, "tau_simcse": 0.2},
        }
    )
    torch.manual_seed(0)
    task = PretrainTask(config, small_data)
    task.model.train()
    batch = task.train_indices[:64]
    fused = task.training_loss(task.model, batch, torch.Generator().manual_seed(3))
    fused.total.backward()
    fused_gradients = {name: p.grad.clone() for name, p in task.model.named_parameters()}
    task.model.zero_grad()

    negatives = task.sampler(small_data.lonlat[batch], 3, torch.Generator().manual_seed(3))
    expected = straightforward_mcssl(task.model, small_data.lonlat[batch], small_data.features[batch], negatives, task.weights)
    expected.backward()

    assert fused.total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert fused.total.item() == pytest.approx(sum(fused.parts.values()), rel=1e-5)
    for name, parameter in task.model.named_parameters():
        torch.testing.assert_close(fused_gradients[name], parameter.grad, rtol=1e-4, atol=1e-6, msg=name)
    assert (task.encoded is None) == (location["encoding"] == "geoclip"), "fixed encodings are cached, learnt ones not"


def test_encodings_are_cached_only_when_fixed_and_within_the_budget(small_data):
    lonlat = small_data.lonlat
    theory = build_location_encoder({"encoding": "theory", "encoding_params": {"num_scales": 8}})
    cached = cached_encodings(theory, lonlat)
    assert cached.shape == (len(lonlat), theory.encoding.out_dim)
    torch.testing.assert_close(cached[[0, 7, len(lonlat) - 1]], theory.features(lonlat[[0, 7, len(lonlat) - 1]]))
    assert cached_encodings(theory, lonlat, budget=len(lonlat) * theory.encoding.out_dim * 4 - 1) is None
    assert cached_encodings(build_location_encoder(SMALL_GEOCLIP), lonlat) is None


def test_the_simcse_view_draws_new_dropout_masks(small_data):
    config = RunConfig.from_dict({"batch_size": 64, "location": {"encoding": "theory", "encoding_params": {"num_scales": 8}}, "data": {"image_encoder": "small_cnn"}})
    task = PretrainTask(config, small_data)
    batch = task.train_indices[:64]
    location, _, negative, second = task.model(small_data.lonlat[batch], small_data.features[batch], torch.zeros(64, 1, 2), True)
    assert negative.shape == (64, 1, 256) and second.shape == location.shape
    assert not torch.allclose(location, second), "training mode: the second view has its own dropout masks"
    task.model.eval()
    location, _, _, second = task.model(small_data.lonlat[batch], small_data.features[batch], None, True)
    torch.testing.assert_close(location, second)

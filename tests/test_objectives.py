"""Objectives: each part matches its formula computed by hand, parts are reported, gradients flow."""

import math

import pytest
import torch
import torch.nn.functional as F

from core.objectives import (
    MCSSLWeights,
    clip_loss,
    cross_entropy_loss,
    info_nce,
    mcssl_loss,
    mse_loss,
    negative_location_loss,
    presence_only_loss,
)


def unit(*rows):
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def test_info_nce_matches_hand_computation():
    q = unit([1.0, 0.0], [0.0, 1.0])
    k = unit([1.0, 1.0], [0.0, 1.0])
    c = 1 / math.sqrt(2)
    # row 0: logits [c, 0]/τ target 0; row 1: logits [c, 1]/τ target 1
    tau = 0.5
    expected = 0.5 * (
        -math.log(math.exp(c / tau) / (math.exp(c / tau) + 1))
        - math.log(math.exp(1 / tau) / (math.exp(c / tau) + math.exp(1 / tau)))
    )
    assert info_nce(q, k, tau).item() == pytest.approx(expected, rel=1e-5)


def test_negative_location_loss_prefers_the_true_location():
    image = unit([1.0, 0.0])
    good = negative_location_loss(unit([1.0, 0.0]), image, unit([0.0, 1.0]), tau=0.1)
    bad = negative_location_loss(unit([0.0, 1.0]), image, unit([1.0, 0.0]), tau=0.1)
    assert good.item() == pytest.approx(math.log(1 + math.exp(-10)), rel=1e-2)
    assert bad.item() > 9.9
    several = negative_location_loss(unit([1.0, 0.0]), image, unit([0.0, 1.0], [0.0, -1.0])[None], tau=1.0)
    assert several.item() == pytest.approx(-math.log(math.e / (math.e + 2)), rel=1e-5)


def test_mcssl_parts_switch_and_weight():
    torch.manual_seed(0)
    loc, img, neg, loc2 = (torch.randn(8, 16, requires_grad=True) for _ in range(4))
    weights = MCSSLWeights(in_batch=1.0, negative_location=0.5, simcse=2.0)
    out = mcssl_loss(loc, img, weights, neg, loc2)
    assert set(out.parts) == {"in_batch", "negative_location", "simcse"}
    assert out.parts["simcse"] == pytest.approx(2.0 * info_nce(loc, loc2, 0.1).item(), rel=1e-5)
    assert out.total.item() == pytest.approx(sum(out.parts.values()), rel=1e-5)
    out.total.backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in (loc, img, neg, loc2))
    only_batch = mcssl_loss(loc, img, MCSSLWeights(negative_location=0, simcse=0))
    assert set(only_batch.parts) == {"in_batch"}
    with pytest.raises(ValueError, match="negative location"):
        mcssl_loss(loc, img, MCSSLWeights(simcse=0))
    with pytest.raises(ValueError, match="switched off"):
        mcssl_loss(loc, img, MCSSLWeights(in_batch=0, negative_location=0, simcse=0))


def test_mse_and_clip():
    a = unit([1.0, 0.0], [0.0, 1.0])
    assert mse_loss(a, a).total.item() == pytest.approx(0.0, abs=1e-7)
    assert mse_loss(a, -a).total.item() == pytest.approx(4.0)
    log_inv_tau = torch.tensor(math.log(10.0), requires_grad=True)
    out = clip_loss(a, a, log_inv_tau)
    expected = -math.log(math.exp(10) / (math.exp(10) + 1))
    assert out.total.item() == pytest.approx(expected, rel=1e-2)
    assert out.parts["tau"] == pytest.approx(0.1)
    out.total.backward()
    assert log_inv_tau.grad is not None


def test_supervised_losses():
    logits = torch.tensor([[2.0, -1.0, 0.0]])
    labels = torch.tensor([0])
    assert cross_entropy_loss(logits, labels).total.item() == pytest.approx(F.cross_entropy(logits, labels).item())
    random_logits = torch.tensor([[-3.0, 0.0, 1.0]])
    out = presence_only_loss(logits, labels, random_logits, positive_weight=5.0)
    ls = F.logsigmoid
    at_x = (-5.0 * ls(torch.tensor(2.0)) - ls(torch.tensor(1.0)) - ls(torch.tensor(0.0))) / 3
    background = -(ls(torch.tensor(3.0)) + ls(torch.tensor(0.0)) + ls(torch.tensor(-1.0))) / 3
    assert out.parts["presence"] == pytest.approx(at_x.item(), rel=1e-5)
    assert out.parts["background"] == pytest.approx(background.item(), rel=1e-5)

"""Networks after the encoding: the cheap-mask dropout and the SimCSE second view."""

import pytest
import torch
from torch import nn

from core.location.networks import FCNet, Dropout, FeedForward, Siren, embed_with_second_view


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_dropout_zeroes_a_fraction_p_and_keeps_the_expectation(p):
    torch.manual_seed(0)
    inputs = torch.rand(1000, 1000) + 1.0
    dropout = Dropout(p)
    outputs = dropout(inputs)
    dropped = outputs == 0
    assert float(dropped.float().mean()) == pytest.approx(p, abs=3e-3)
    torch.testing.assert_close(outputs[~dropped], inputs[~dropped] * dropout.scale)
    assert dropout.scale == pytest.approx(1 / (1 - p), rel=1e-4)
    assert float(outputs.sum() / inputs.sum()) == pytest.approx(1.0, abs=5e-3)


def test_dropout_is_seeded_differentiable_and_off_in_eval():
    inputs = torch.randn(64, 32, requires_grad=True)
    torch.manual_seed(1)
    first = Dropout(0.5)(inputs)
    torch.manual_seed(1)
    again = Dropout(0.5)(inputs)
    assert torch.equal(first, again)
    first.sum().backward()
    torch.testing.assert_close(inputs.grad, (first != 0).float() * 2.0)
    assert torch.equal(Dropout(0.5).eval()(inputs), inputs)
    assert torch.equal(Dropout(0.0)(inputs), inputs)
    with pytest.raises(ValueError, match="dropout"):
        Dropout(1.0)


@pytest.mark.parametrize(
    "network",
    [
        FCNet(6, 8, hidden_dim=16, dropout=0.5),
        FCNet(6, 8, hidden_dim=16, num_blocks=0),
        FCNet(6, 8, hidden_dim=16, linear_layers=1),
        FeedForward(6, 8, hidden_dim=16, num_hidden_layers=2),
        Siren(6, 8, hidden_dim=16),
        nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.5), nn.Linear(16, 8)),
    ],
    ids=["fcnet", "fcnet-no-blocks", "fcnet-single", "mlp", "siren", "other-with-dropout"],
)
def test_the_second_view_embeds_the_first_rows_again(network):
    torch.manual_seed(0)
    features = torch.randn(10, 6)
    network.eval()
    first, second = embed_with_second_view(network, features, 4)
    torch.testing.assert_close(first, network(features))
    torch.testing.assert_close(second, first[:4])
    network.train()
    first, second = embed_with_second_view(network, features, 4)
    assert first.shape == (10, 8) and second.shape == (4, 8)
    has_dropout = any(isinstance(m, (Dropout, nn.Dropout)) and m.p > 0 for m in network.modules())
    assert torch.allclose(second, first[:4]) != has_dropout, "a network with dropout draws new masks for the second view"


def test_fcnet_blocks_follow_the_csp_reference_reslayer():
    """CSP main/models.py: Linear, ReLU, then N ResLayer (w1, ReLU, Dropout, w2, ReLU, + input)."""
    network = FCNet(6, 8, hidden_dim=16, num_blocks=3, dropout=0.5)
    blocks = list(network.body)[2:-1]
    assert len(blocks) == 3
    for block in blocks:
        kinds = [type(layer) for layer in block.body]
        assert kinds == [nn.Linear, nn.ReLU, Dropout, nn.Linear, nn.ReLU]
        assert block.body[2].p == 0.5
    block = blocks[0].eval()
    hidden = torch.randn(5, 16)
    w1, _, _, w2, _ = block.body
    torch.testing.assert_close(block(hidden), hidden + torch.relu(w2(torch.relu(w1(hidden)))))
    single = FCNet(6, 8, hidden_dim=16, num_blocks=2, linear_layers=1)
    assert [len(list(b.body)) for b in list(single.body)[2:-1]] == [3, 3]


def test_a_one_linear_fcnet_checkpoint_is_named_as_such(tmp_path):
    from safetensors.torch import save_file

    from core.train.checkpoint import CheckpointError, load_model_weights

    old = nn.ModuleDict({"network": FCNet(6, 8, hidden_dim=16, num_blocks=2, linear_layers=1)})
    save_file(old.state_dict(), str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="fcnet_single"):
        load_model_weights(tmp_path, nn.ModuleDict({"network": FCNet(6, 8, hidden_dim=16, num_blocks=2)}))
    load_model_weights(tmp_path, nn.ModuleDict({"network": FCNet(6, 8, hidden_dim=16, num_blocks=2, linear_layers=1)}))

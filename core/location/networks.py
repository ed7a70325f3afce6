"""Networks applied after a positional encoding: linear, fcnet (geo_prior/CSP), mlp (Space2Vec FFN),
siren (SatCLIP) and identity (for encodings that carry their own network, e.g. geoclip).

Each is built as ``Network(in_dim, out_dim, **params)`` (linear is ``torch.nn.Linear``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


class IdentityNetwork(nn.Module):
    """No network: the encoding's features are the embedding (``out_dim`` must equal ``in_dim``)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        if out_dim != in_dim:
            raise ValueError(f"output_dim: the identity network keeps the encoding's {in_dim} features, got {out_dim}")

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return ``features`` unchanged."""
        return features


class ResidualBlock(nn.Module):
    """x + Dropout(act(Linear(x))): one geo_prior/CSP residual layer."""

    def __init__(self, width: int, act: str, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), activation(act), nn.Dropout(dropout))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return hidden + self.body(hidden)


class FCNet(nn.Module):
    """geo_prior / CSP FCNet: Linear → act → ``num_blocks`` residual (Linear, act, dropout) → Linear head.

    Dropout also gives CSP's SimCSE term its second view (a new dropout mask per forward).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 256, num_blocks: int = 2, dropout: float = 0.5, act: str = "relu") -> None:
        super().__init__()
        blocks = [ResidualBlock(hidden_dim, act, dropout) for _ in range(num_blocks)]
        self.body = nn.Sequential(nn.Linear(in_dim, hidden_dim), activation(act), *blocks, nn.Linear(hidden_dim, out_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map ``[N, in_dim]`` features to ``[N, out_dim]``."""
        return self.body(features)


class FeedForward(nn.Module):
    """Space2Vec / CSP "ffn": ``num_hidden_layers`` × (Linear, act, dropout[, + input][, LayerNorm]) → Linear.

    The skip connection is used where a layer's input and output widths agree.
    """

    def __init__(
        self, in_dim: int, out_dim: int, hidden_dim: int = 256, num_hidden_layers: int = 1, dropout: float = 0.5,
        act: str = "relu", layer_norm: bool = True, skip_connection: bool = True,
    ) -> None:
        super().__init__()
        widths = [in_dim] + [hidden_dim] * num_hidden_layers
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.LayerNorm(o) if layer_norm else nn.Identity() for o in widths[1:])
        self.skips = [skip_connection and i == o for i, o in zip(widths[:-1], widths[1:])]
        self.act = activation(act)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1], out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map ``[N, in_dim]`` features to ``[N, out_dim]``."""
        hidden = features
        for layer, norm, skip in zip(self.layers, self.norms, self.skips):
            update = self.dropout(self.act(layer(hidden)))
            hidden = norm(hidden + update if skip else update)
        return self.head(hidden)


class SineLayer(nn.Module):
    """sin(ω·(W x + b)) with SIREN's init: W ~ U(±1/in) for the first layer, U(±sqrt(6/in)/ω) after."""

    def __init__(self, in_dim: int, out_dim: int, omega: float, first: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.omega = omega
        bound = 1.0 / in_dim if first else math.sqrt(6.0 / in_dim) / omega
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Apply the sine layer."""
        return torch.sin(self.omega * self.linear(inputs))


class Siren(nn.Module):
    """SIREN (Sitzmann et al. 2020) as in SatCLIP: ``num_layers`` sine layers (ω0 = ``omega_first`` = 30 on
    the first, ``omega_hidden`` after) then a linear head initialised like a hidden sine layer."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 256, num_layers: int = 2, omega_first: float = 30.0, omega_hidden: float = 1.0) -> None:
        super().__init__()
        widths = [in_dim] + [hidden_dim] * num_layers
        self.body = nn.Sequential(
            *(SineLayer(i, o, omega_first if k == 0 else omega_hidden, first=k == 0) for k, (i, o) in enumerate(zip(widths[:-1], widths[1:])))
        )
        self.head = nn.Linear(hidden_dim, out_dim)
        bound = math.sqrt(6.0 / hidden_dim) / omega_hidden
        with torch.no_grad():
            self.head.weight.uniform_(-bound, bound)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map ``[N, in_dim]`` features to ``[N, out_dim]``."""
        return self.head(self.body(features))

"""Networks applied after a positional encoding: linear, fcnet (geo_prior/CSP; fcnet_single, its one-Linear-block variant), mlp (Space2Vec FFN),
siren (SatCLIP) and identity (for encodings that carry their own network, e.g. geoclip).

Each is built as ``Network(in_dim, out_dim, **params)`` (linear is ``torch.nn.Linear``).
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class Dropout(nn.Module):
    """Inverted dropout with cheap masks: one 64-bit draw of torch's generator gives four 16-bit lanes,
    one per element, kept when at or above a threshold.

    ``nn.Dropout`` draws a Bernoulli per element, which on the CPU costs more than the matmul of the
    layer it follows at CSP's sizes; this is about 3x cheaper and the same distribution with the drop
    probability ``p`` rounded to a multiple of 2^-16 (0.5 exactly). Kept values are scaled by
    1 / (1 - that probability), so the expected output equals the input. Like ``nn.Dropout`` it draws
    from torch's global generator (seeded, saved and restored with a run) and is the identity in eval mode.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {p!r}")
        self.p = p
        dropped = min(round(p * 65536), 65535)  # lanes below the threshold, out of 2^16
        self.threshold = dropped - 32768
        self.scale = 65536 / (65536 - dropped)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Zero each element with probability ``p`` (training mode), scale the rest."""
        if not self.training or self.threshold == -32768:
            return inputs
        count = inputs.numel()
        words = torch.empty((count + 3) // 4, dtype=torch.int64, device=inputs.device).random_(-(2**63), None)
        keep = words.view(torch.int16)[:count].view(inputs.shape).ge(self.threshold)
        return inputs * keep.to(inputs.dtype).mul_(self.scale)

    def extra_repr(self) -> str:
        return f"p={self.p}"


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


def repeat_rows(values: torch.Tensor, count: int) -> torch.Tensor:
    """``values`` with a copy of its first ``count`` rows appended (``values`` itself when ``count`` is 0)."""
    return torch.cat([values, values[:count]]) if count else values


def embed_with_second_view(network: nn.Module, features: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(``network(features)``, a second embedding of the first ``count`` rows under new dropout masks).

    The second view is CSP's SimCSE pass. FCNet and FeedForward compute what comes before their first
    dropout once for both views; a network without dropout gives the first view again, computed once.
    """
    if isinstance(network, (FCNet, FeedForward)):
        embedded = network(features, second_view=count)
        return embedded[: len(features)], embedded[len(features) :]
    if any(isinstance(module, (Dropout, nn.Dropout)) for module in network.modules()):
        embedded = network(repeat_rows(features, count))
        return embedded[: len(features)], embedded[len(features) :]
    embedded = network(features)
    return embedded, embedded[:count]


class ResidualBlock(nn.Module):
    """One geo_prior/CSP residual layer, ``x + act(Linear(Dropout(act(Linear(x)))))``.

    Reference: ``ResLayer`` in ``main/models.py`` of gengchenmai/csp (the same class in
    TorchSpatial's ``main/models.py`` and in geo_prior's ``models.py``): ``w1`` → ReLU → ``Dropout()``
    (p = 0.5) → ``w2`` → ReLU, added to the input. ``linear_layers=1`` is the one-Linear block
    ``x + Dropout(act(Linear(x)))`` that GeoCSP used before (network ``fcnet_single``).
    """

    def __init__(self, width: int, act: str, dropout: float, linear_layers: int = 2) -> None:
        super().__init__()
        if linear_layers not in (1, 2):
            raise ValueError(f"linear_layers: a residual block has 1 or 2 Linear layers, got {linear_layers!r}")
        layers = [nn.Linear(width, width), activation(act), Dropout(dropout)]
        if linear_layers == 2:
            layers += [nn.Linear(width, width), activation(act)]
        self.body = nn.Sequential(*layers)

    def forward(self, hidden: torch.Tensor, second_view: int = 0) -> torch.Tensor:
        """Apply the block; ``second_view`` rows (the first ones) go through the dropout (and what follows
        it) a second time, appended. The first Linear and activation run once for both views."""
        first, act, dropout, *after = self.body
        update = dropout(repeat_rows(act(first(hidden)), second_view))
        for layer in after:
            update = layer(update)
        return repeat_rows(hidden, second_view) + update


class FCNet(nn.Module):
    """geo_prior / CSP FCNet: Linear → act → ``num_blocks`` residual blocks → Linear head.

    Reference: ``FCNet`` in ``main/models.py`` of gengchenmai/csp (``feats`` = Linear(in, 256), ReLU,
    four ``ResLayer`` s; see :class:`ResidualBlock`: two Linear layers with dropout between them per
    block). The head maps the width to ``out_dim`` (the reference's ``class_emb`` / CSP's projection).
    ``linear_layers=1`` gives the earlier one-Linear blocks (network ``fcnet_single``).
    Dropout also gives CSP's SimCSE term its second view (a new dropout mask per forward).
    """

    def __init__(
        self, in_dim: int, out_dim: int, hidden_dim: int = 256, num_blocks: int = 4, dropout: float = 0.5, act: str = "relu",
        linear_layers: int = 2,
    ) -> None:
        super().__init__()
        blocks = [ResidualBlock(hidden_dim, act, dropout, linear_layers) for _ in range(num_blocks)]
        self.body = nn.Sequential(nn.Linear(in_dim, hidden_dim), activation(act), *blocks, nn.Linear(hidden_dim, out_dim))

    def hidden(self, features: torch.Tensor, second_view: int = 0) -> torch.Tensor:
        """The last residual block's output ``[N, hidden_dim]`` (the reference's ``return_feats``
        embedding); ``second_view`` as in :meth:`forward`."""
        hidden = self.body[1](self.body[0](features))
        blocks = self.body[2:-1]
        for index, block in enumerate(blocks):
            hidden = block(hidden, second_view if index == 0 else 0)
        return hidden if len(blocks) else repeat_rows(hidden, second_view)

    def forward(self, features: torch.Tensor, second_view: int = 0) -> torch.Tensor:
        """Map ``[N, in_dim]`` features to ``[N, out_dim]``; with ``second_view`` = m, append m rows: the
        first m embedded again under new dropout masks (the layers before the first dropout run once)."""
        return self.body[-1](self.hidden(features, second_view))


LEGACY_FCNET_HINT = (
    "it was saved with the one-Linear fcnet residual blocks of earlier GeoCSP versions; fcnet now follows the "
    "CSP reference (two Linear layers per block). Set location.network to 'fcnet_single' to load it, or pre-train again"
)


_SECOND_LINEAR = re.compile(r"network\.body\.\d+\.body\.3\.(weight|bias)$")


def legacy_layout_hint(missing: list[str]) -> str | None:
    """:data:`LEGACY_FCNET_HINT` when the ``missing`` weight names are the second Linear layers of fcnet
    residual blocks (a checkpoint of the one-Linear layout), else None."""
    if missing and all(_SECOND_LINEAR.search(name) for name in missing):
        return LEGACY_FCNET_HINT
    return None


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
        self.dropout = Dropout(dropout)
        self.head = nn.Linear(widths[-1], out_dim)

    def forward(self, features: torch.Tensor, second_view: int = 0) -> torch.Tensor:
        """Map ``[N, in_dim]`` features to ``[N, out_dim]``; ``second_view`` as in :meth:`FCNet.forward`."""
        hidden = features
        for index, (layer, norm, skip) in enumerate(zip(self.layers, self.norms, self.skips)):
            repeat = second_view if index == 0 else 0
            update = self.dropout(repeat_rows(self.act(layer(hidden)), repeat))
            hidden = norm(repeat_rows(hidden, repeat) + update if skip else update)
        return self.head(hidden if self.layers else repeat_rows(hidden, second_view))


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

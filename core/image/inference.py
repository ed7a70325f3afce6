"""The inference form of a frozen image model: BatchNorm folded into the convolutions, channels-last.

In eval mode a BatchNorm after a convolution is an affine map per channel, so it folds into the
convolution's weights and bias (``w' = w·γ/σ``, ``b' = (b − μ)·γ/σ + β``): one pass over each
activation instead of two. Channels-last (NHWC) memory is what oneDNN's CPU convolutions run
fastest on, depthwise ones above all. The result gives the model's features up to float32
rounding (see ``benchmarks/feature_extraction.py`` for what each step is worth).

Convolution → BatchNorm pairs are found by symbolic tracing (:mod:`torch.fx`), so only a BatchNorm
that really consumes a convolution's sole output is folded; a model that cannot be traced is kept
unfolded (still channels-last).
"""

from __future__ import annotations

import copy

import torch
import torch.fx
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


class _ConvolutionsAsLeaves(torch.fx.Tracer):
    """Traces through every module except convolutions (custom "same"-padding subclasses included)."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, nn.Conv2d) or super().is_leaf_module(module, qualified_name)


def conv_batchnorm_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Names ``(convolution, batchnorm)`` of each BatchNorm2d fed only by a Conv2d's output.

    Both modules must be called exactly once in the forward; empty when the model cannot be traced.
    """
    try:
        graph = _ConvolutionsAsLeaves().trace(model)
    except Exception:  # tracing runs the model's own Python; any failure there means "do not fold"
        return []
    modules = dict(model.named_modules())
    calls = [node for node in graph.nodes if node.op == "call_module"]
    call_counts: dict[str, int] = {}
    for node in calls:
        call_counts[node.target] = call_counts.get(node.target, 0) + 1
    pairs = []
    for node in calls:
        source = node.args[0] if len(node.args) == 1 and not node.kwargs else None
        if not (isinstance(modules[node.target], nn.BatchNorm2d) and isinstance(source, torch.fx.Node)):
            continue
        if source.op == "call_module" and isinstance(modules[source.target], nn.Conv2d) and len(source.users) == 1:
            if call_counts[source.target] == call_counts[node.target] == 1:
                pairs.append((source.target, node.target))
    return pairs


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of eval-mode ``model`` with every foldable BatchNorm merged into its convolution.

    The folded BatchNorms become identities; the model's own ``forward`` is kept. The folding is
    computed in float64, so the folded float32 model is as close to exact arithmetic as the
    original. Raises ValueError for a model in training mode (batch statistics cannot be folded).
    """
    if model.training:
        raise ValueError("BatchNorm folding needs a model in eval mode")
    folded = copy.deepcopy(model)
    for conv_name, norm_name in conv_batchnorm_pairs(folded):
        conv, norm = folded.get_submodule(conv_name), folded.get_submodule(norm_name)
        dtype = conv.weight.dtype
        fused = fuse_conv_bn_eval(conv.double(), norm.double()).to(dtype)
        folded.set_submodule(conv_name, fused, strict=True)
        folded.set_submodule(norm_name, nn.Identity(), strict=True)
    return folded


class InferenceForm(nn.Module):
    """``model`` folded and channels-last; ``forward`` takes the same ``[N, 3, H, W]`` inputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = fold_batchnorm(model).to(memory_format=torch.channels_last)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """The model's output for ``pixels`` (any memory layout)."""
        return self.model(pixels.contiguous(memory_format=torch.channels_last))


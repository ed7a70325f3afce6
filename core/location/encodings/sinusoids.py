"""What the sinusoidal encodings share: sines and cosines of linear functions of the coordinates in one
pass of ``torch.sin``, computed feature-major, and constant tables derived from persistent buffers.

``sinusoid_rows(rows, weight, phase)`` is sin(weight @ rows + phase) for coordinates given as rows
``[C, N]`` (``lonlat.T``): a few cheap passes write every argument, then one in-place sine turns the
whole table into features (cos x = sin(x + π/2)), so an encoding costs about one ``torch.sin`` per
feature. Tables are feature-major ``[F, N]`` so that every elementwise pass runs along the points
(long, contiguous, vectorised) whatever the number of features (row-major, a pass over 4 features
per point runs element by element); encodings return the transposed view ``[N, F]``, which matrix
products read without a copy. In float32 the π/2 shift rounds the argument once more, by at most
half an ulp of |x| (3e-5 at |x| = 1 000 rad), no more than the rounding the argument already
carries; in float64 it is negligible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

SIN = 0.0
"""Phase that makes sin(x + phase) the sine."""
COS = math.pi / 2.0
"""Phase that makes sin(x + phase) the cosine."""


def with_phases(weight: torch.Tensor, phases: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row f of ``weight`` [F, C] repeated once per phase: weight [F·P, C] and phase [F·P], layout [f, p]."""
    repeated = weight.repeat_interleave(len(phases), dim=0)
    return repeated, torch.tensor(list(phases), dtype=weight.dtype, device=weight.device).repeat(weight.shape[0])


def linear_rows(rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """weight @ rows + bias ``[F, N]`` for coordinate rows ``[C, N]`` (any strides, e.g. ``points.T``), weight
    ``[F, C]`` and bias ``[F]``: one broadcast pass per coordinate along contiguous rows (with C ≤ 3 a matrix
    product is slow for many features), plus one for the bias.

    Every value is rounded as IEEE multiplications and additions in this order round it, with no fused
    multiply-add (``addcmul_`` and matrix products fuse, depending on the CPU and the BLAS): at the finest
    scales an argument of ~10³ rad carries 1e-4 per ulp, so a different rounding would move the features
    by that much, and an exported ONNX graph (:mod:`core.location.export`) could not reproduce them.
    """
    if not rows.is_contiguous():
        rows = torch.stack(rows.unbind(0))  # a transposed [N, C] view: faster than .contiguous()
    table = torch.mul(weight[:, 0:1], rows[0:1]).add_(bias[:, None])
    for c in range(1, rows.shape[0]):
        table.add_(torch.mul(weight[:, c : c + 1], rows[c : c + 1]))
    return table


def sinusoid_rows(rows: torch.Tensor, weight: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """sin(weight @ rows + phase) ``[F, N]`` for coordinate rows ``[C, N]``, weight ``[F, C]`` and phase ``[F]``."""
    return linear_rows(rows, weight, phase).sin_()


def _rederive(module: nn.Module, _incompatible_keys: object) -> None:
    module.derive_tables()


class DerivedTables(nn.Module):
    """Base of encodings whose constant tables are derived from their persistent buffers.

    Subclasses set their persistent buffers (what a state dict holds), then call :meth:`derive_tables`,
    which stores the derived tables with :meth:`set_table` as non-persistent buffers. It runs again after
    ``load_state_dict``, so loaded centres or frequencies are the ones used. Tables are computed in
    float64 and kept in the dtype of the buffers they come from.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_load_state_dict_post_hook(_rederive)

    def derive_tables(self) -> None:
        """Recompute the derived tables from the persistent buffers."""
        raise NotImplementedError

    def set_table(self, name: str, value: torch.Tensor, like: torch.Tensor) -> None:
        """Store ``value`` as the non-persistent buffer ``name``, in the dtype and on the device of ``like``."""
        self.register_buffer(name, value.to(dtype=like.dtype, device=like.device), persistent=False)

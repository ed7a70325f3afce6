"""A location encoder as a portable graph: ONNX (dynamic batch) and TorchScript files that take ``[N, 2]``
float32 (lon, lat) degrees and return exactly what :meth:`~core.location.encoder.LocationEncoder.embed`
returns (not L2-normalised), runnable without GeoCSP.

A graph cannot raise, so the checks ``embed`` makes become data: longitudes are wrapped into [-180, 180)
as the library wraps them, and a row that the library would refuse (NaN, infinite, |lat| > 90) comes out
as a row of NaN (it is embedded at (0, 0) and then masked, so no encoding sees a bad value).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch
from torch import nn

from core.coords import wrap_longitude
from core.location.encoder import LocationEncoder

FORMATS = {"onnx": "encoder.onnx", "torchscript": "encoder.pt"}
"""Graph formats an export can write, with their file names."""
ONNX_OPSET = 18
INPUT_NAME = "lonlat"
OUTPUT_NAME = "embedding"
_TRACE_BATCH = 3
"""Rows of the example input the graphs are traced with (neither 1 nor a size checked later, so a shape
baked into the trace shows up in the equivalence checks)."""


class ExportError(ValueError):
    """An encoder, source or folder that cannot be exported; the message says why."""


class PortableEncoder(nn.Module):
    """``embed`` without the Python-side checks: what the exported graphs compute (see the module docstring)."""

    def __init__(self, encoder: LocationEncoder) -> None:
        super().__init__()
        self.encoder = encoder.eval()
        self.dtype = encoder.config.dtype

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """(lon, lat) float32 degrees ``[N, 2]`` → the embedding ``[N, D]`` float32; NaN rows for invalid input."""
        points = lonlat.to(self.dtype)
        lon, lat = points[:, 0], points[:, 1]
        valid = torch.isfinite(lon) & (lat.abs() <= 90.0)  # a NaN latitude compares False
        clean = torch.where(valid[:, None], torch.stack([wrap_longitude(lon), lat], dim=1), torch.zeros_like(points))
        embedding = self.encoder.embed_checked(clean)
        return torch.where(valid[:, None], embedding, torch.full_like(embedding, float("nan")))


def example_input() -> torch.Tensor:
    """The float32 ``[N, 2]`` points the graphs are traced with."""
    return torch.tensor([[2.35, 48.86], [-74.0, 40.7], [151.2, -33.9]], dtype=torch.float32)[:_TRACE_BATCH]


def write_torchscript(encoder: LocationEncoder, path: Path) -> None:
    """Trace :class:`PortableEncoder` and save it as TorchScript at ``path``; :class:`ExportError` when it cannot."""
    module = PortableEncoder(encoder)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(module, example_input(), check_trace=False)
        traced.save(str(path))
    except (RuntimeError, TypeError, ValueError) as error:
        raise ExportError(f"TorchScript cannot trace the {encoder.config.encoding} encoder: {str(error).splitlines()[0]}") from None


def write_onnx(encoder: LocationEncoder, path: Path) -> None:
    """Export :class:`PortableEncoder` to ONNX (opset :data:`ONNX_OPSET`, dynamic batch axis) at ``path``;
    :class:`ExportError` names the operator or construct ONNX lacks."""
    module = PortableEncoder(encoder)
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, (example_input(),), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: torch.export.Dim("N")},), opset_version=ONNX_OPSET, dynamo=True, verbose=False,
            )
            program.save(buffer)
    except Exception as error:  # the exporter raises its own error types (UnsupportedOperatorError, SymbolicValueError, ...)
        raise ExportError(
            f"ONNX cannot express the {encoder.config.encoding} encoder: {_root_cause(error)} "
            "(export the other formats alone, e.g. --formats torchscript)"
        ) from None
    path.write_bytes(buffer.getvalue())


def _root_cause(error: BaseException) -> str:
    """The first line of the innermost cause: the exporter wraps what failed (an op, a view it cannot
    functionalise) in errors about its own steps."""
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error).strip().splitlines()[0]

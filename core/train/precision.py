"""Mixed precision for training steps (``train.precision``): ``fp32`` (none), ``bf16`` (autocast to bfloat16, on
CUDA and on the CPU) or ``fp16`` (autocast to float16 with a gradient scaler, so small gradients do not flush
to zero). Parameters, optimiser state and validation stay float32; only the forward passes of training steps
run in the lower precision."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch
from torch import nn

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class MixedPrecision:
    """Autocast and, for fp16, a gradient scaler for one run on ``device_type`` ("cpu" or "cuda")."""

    def __init__(self, precision: Precision, device_type: str) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"train.precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.precision, self.device_type = precision, device_type
        self.scaler = torch.amp.GradScaler(device_type, enabled=precision == "fp16")

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """The forward pass of a training step in this precision."""
        if self.precision == "fp32":
            yield
            return
        with torch.autocast(self.device_type, dtype=_DTYPES[self.precision]):
            yield

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, model: nn.Module, grad_clip: float) -> None:
        """Backward pass, gradient clipping (on unscaled gradients) and the optimiser step; with fp16 a step whose
        gradients overflowed is skipped and the scale lowered."""
        self.scaler.scale(loss).backward()
        if grad_clip > 0:
            self.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()

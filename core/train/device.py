"""Where a run trains (``train.device``): ``auto`` (the first CUDA device when there is one, else the CPU),
``cpu``, ``cuda`` (this process's CUDA device: under ``torchrun`` each rank of a node has its own, see
:func:`core.ranks.init_from_environment`) or ``cuda:N``.

Batches are drawn and their random parts (negative locations, augmentations) generated on the CPU, with the
run's seeded generators, and copied to the device for the forward pass: a run draws the same batches on
every device, so CPU and GPU runs of one config differ only by floating-point arithmetic.
"""

from __future__ import annotations

import itertools
import re

import torch
from torch import nn

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(?::\d+)?")
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def check_device_name(name: str) -> str:
    """``name`` when it is a device ``train.device`` accepts, else ValueError naming the choices."""
    if not isinstance(name, str) or not DEVICE_PATTERN.fullmatch(name):
        raise ValueError(f"must be {DEVICE_CHOICES}, not {name!r}")
    return name


def available_devices() -> list[str]:
    """The ``train.device`` choices this machine can run: auto, cpu and each visible CUDA device."""
    return ["auto", "cpu", *(f"cuda:{index}" for index in range(torch.cuda.device_count()))]


def resolve_device(name: str) -> torch.device:
    """The torch device ``train.device`` names on this machine; ValueError when it names a CUDA device this
    machine does not have."""
    try:
        check_device_name(name)
    except ValueError as error:
        raise ValueError(f"train.device {error}") from None
    if name == "cpu" or name == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(
            f"train.device={name}, but torch {torch.__version__} sees no CUDA device here "
            f"(CUDA build: {torch.version.cuda or 'none'}); use train.device=cpu or auto"
        )
    if name in ("auto", "cuda"):
        return torch.device("cuda", torch.cuda.current_device())
    index = int(name.partition(":")[2])
    if index >= torch.cuda.device_count():
        raise ValueError(f"train.device={name}, but this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", index)


def module_device(module: nn.Module) -> torch.device:
    """Where ``module``'s parameters (or, without any, its buffers) are; the CPU for an empty module."""
    tensor = next(itertools.chain(module.parameters(), module.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")

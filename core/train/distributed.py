"""torch.distributed support: join a ``torchrun`` launch, or spawn local ranks directly.

Under ``torchrun --nproc-per-node N -m core pretrain ...`` every rank calls
:func:`init_from_environment`; :func:`core.train.loop.fit` then wraps the model in DDP and gives
each rank its shard of every global batch. :func:`fit_in_processes` does the same on one machine
without torchrun (CPU ranks, gloo backend) and returns each rank's final weights and history.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from core.train.config import RunConfig
from core.train.data import FeatureData


def init_from_environment() -> tuple[int, int]:
    """Initialise the process group from torchrun's variables (no-op for a single process)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def fit_in_processes(world_size: int, config: RunConfig, data: FeatureData, out_dir: Path) -> list[dict]:
    """Train with ``world_size`` local CPU ranks (gloo); return per-rank ``{"weights", "history"}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rendezvous = Path(tempfile.mkdtemp(dir=out_dir)) / "rendezvous"
    mp.spawn(
        _rank_main,
        args=(world_size, f"file://{rendezvous}", config.to_dict(), data, str(out_dir)),
        nprocs=world_size,
        join=True,
    )
    return [
        {
            "weights": load_file(str(out_dir / f"rank{rank}.safetensors")),
            "history": json.loads((out_dir / f"rank{rank}.json").read_text()),
        }
        for rank in range(world_size)
    ]


def _rank_main(rank: int, world_size: int, init_method: str, config_dict: dict, data: FeatureData, out_dir: str) -> None:
    from core.train.loop import fit
    from core.train.runner import build_task

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world_size)
    try:
        config = RunConfig.from_dict(config_dict)
        task = build_task(config, data)
        result = fit(task, config, None)
        state = {k: v.detach().contiguous() for k, v in task.model.state_dict().items()}
        save_file(state, str(Path(out_dir) / f"rank{rank}.safetensors"))
        (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(result.history))
    finally:
        dist.destroy_process_group()

"""Training across ranks: a ``torchrun`` launch that survives a lost worker, or local ranks spawned here.

Under ``torchrun --nproc-per-node N -m core pretrain ...`` every rank joins the process group
(:func:`core.ranks.init_from_environment`: collectives give up after
:func:`core.ranks.collective_timeout` seconds); :func:`torchrun_launch` then picks the run folder on rank 0 and
tells every rank, so a group that ``torchrun --max-restarts`` restarts lands in the same folder and
resumes from its last checkpoint on its own. :func:`core.train.loop.fit` wraps the model in DDP,
gives each rank its shard of every global batch and meets the other ranks at :func:`core.ranks.sync_ranks`
after each epoch's checkpoint: a rank that is dead or hung there is named in a :class:`core.ranks.PeerLost`
error instead of holding the others forever. :func:`fit_in_processes` trains on one machine without
torchrun (CPU ranks, gloo backend) and returns each rank's final weights and history.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from core.ranks import collective_timeout, group_attempt

if TYPE_CHECKING:
    from core.train.config import RunConfig
    from core.train.data import FeatureData

@dataclass(frozen=True)
class Launch:
    """Where a torchrun-launched training run goes, as rank 0 decided it for every rank."""

    run_dir: Path
    resume: bool  # a restart, or the folder already holds a checkpoint of this config


def torchrun_launch(config: RunConfig, run_dir: Path | None) -> Launch | None:
    """Rank 0's choice of run folder and whether to resume, shared with every rank; None outside torchrun.

    Without ``--run-dir`` the folder is named after torchrun's rendezvous id (``--rdzv-id``, or the
    one ``--standalone`` draws), which a restarted group keeps; without either it is named after the
    host and the torchrun agent of rank 0. The run resumes when torchrun restarted the group
    (:func:`group_attempt` > 0) or the folder's last checkpoint has this config.
    """
    if "TORCHELASTIC_RUN_ID" not in os.environ:
        return None
    text = ""
    if not dist.is_initialized() or dist.get_rank() == 0:
        folder = Path(run_dir) if run_dir is not None else _launch_folder(config.stage)
        restarted = group_attempt() > 0
        text = json.dumps({"run_dir": str(folder.resolve()), "resume": restarted or _holds_checkpoint_of(folder, config)})
    decided = json.loads(_broadcast_text(text))
    return Launch(Path(decided["run_dir"]), decided["resume"])


def _launch_folder(stage: str) -> Path:
    from core.train.records import runs_root

    run_id = os.environ["TORCHELASTIC_RUN_ID"]
    key = run_id if run_id != "none" else f"{socket.gethostname()}-{os.getppid()}"
    return runs_root() / f"torchrun-{stage}-{re.sub(r'[^A-Za-z0-9._-]', '_', key)}"


def _holds_checkpoint_of(run_dir: Path, config: RunConfig) -> bool:
    from core.train.checkpoint import CheckpointError, recover_checkpoint
    from core.train.loop import checkpoint_run_config, config_differences
    from core.train.records import LAST

    last = run_dir / "checkpoints" / LAST
    try:
        return recover_checkpoint(last) and not config_differences(checkpoint_run_config(last), config.to_dict())
    except CheckpointError:
        return False


def _broadcast_text(text: str) -> str:
    """Rank 0's ``text`` on every rank (as bytes in tensors: nothing is pickled)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return text
    data = torch.tensor(list(text.encode()), dtype=torch.uint8)
    length = torch.tensor([len(data)], dtype=torch.int64)
    dist.broadcast(length, src=0)
    if dist.get_rank() != 0:
        data = torch.empty(int(length), dtype=torch.uint8)
    dist.broadcast(data, src=0)
    return bytes(data.tolist()).decode()


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
    from core.train.config import RunConfig
    from core.train.loop import fit
    from core.train.runner import build_task

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=init_method, rank=rank, world_size=world_size, timeout=timedelta(seconds=collective_timeout())
    )
    try:
        config = RunConfig.from_dict(config_dict)
        task = build_task(config, data)
        result = fit(task, config, None)
        state = {k: v.detach().contiguous().cpu() for k, v in task.model.state_dict().items()}
        save_file(state, str(Path(out_dir) / f"rank{rank}.safetensors"))
        (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(result.history))
    finally:
        dist.destroy_process_group()

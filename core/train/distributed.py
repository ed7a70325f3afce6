"""torch.distributed support: join a ``torchrun`` launch that survives a lost worker, or spawn local ranks.

Under ``torchrun --nproc-per-node N -m core pretrain ...`` every rank calls
:func:`init_from_environment` (a process group whose collectives give up after
:func:`collective_timeout` seconds); :func:`torchrun_launch` then picks the run folder on rank 0 and
tells every rank, so a group that ``torchrun --max-restarts`` restarts lands in the same folder and
resumes from its last checkpoint on its own. :func:`core.train.loop.fit` wraps the model in DDP,
gives each rank its shard of every global batch and meets the other ranks at :func:`sync_ranks`
after each epoch's checkpoint: a rank that is dead or hung there is named in a :class:`PeerLost`
error instead of holding the others forever. :func:`fit_in_processes` trains on one machine without
torchrun (CPU ranks, gloo backend) and returns each rank's final weights and history.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

if TYPE_CHECKING:  # the extraction imports this module: it stays free of the training side
    from core.train.config import RunConfig
    from core.train.data import FeatureData

TIMEOUT_VARIABLE = "GEOCSP_DIST_TIMEOUT_S"
#: Seconds a collective (an all-reduce, a barrier) waits for the other ranks by default: torch's own
#: default for gloo, long enough for ranks of an extraction that resumed unevenly to meet.
DEFAULT_TIMEOUT_S = 1800.0


class PeerLost(RuntimeError):
    """Another rank of the process group died or hung; the message names it when it is known."""


def collective_timeout() -> float:
    """Seconds a collective waits for the other ranks (``GEOCSP_DIST_TIMEOUT_S``, default 1800)."""
    text = os.environ.get(TIMEOUT_VARIABLE, "")
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{TIMEOUT_VARIABLE} must be a number of seconds, got {text!r}") from None
    if not seconds > 0:
        raise ValueError(f"{TIMEOUT_VARIABLE} must be positive, got {text!r}")
    return seconds


_attempt: list[int] = []  # this process's group attempt, once init_from_environment found it


def init_from_environment() -> tuple[int, int]:
    """Initialise the process group from torchrun's variables (no-op for a single process)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        if torch.cuda.is_available():  # each rank of a node on its own GPU (extraction with --device cuda)
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        # gloo even beside GPUs: every tensor the ranks exchange lives on the CPU (training runs there, and
        # extraction on a GPU only meets at barriers), which NCCL cannot carry
        backend = "gloo"
        timeout = timedelta(seconds=collective_timeout())
        store = _attempt_store(world_size, timeout)
        if store is None:
            dist.init_process_group(backend=backend, timeout=timeout)
        else:
            dist.init_process_group(backend=backend, store=store, rank=int(os.environ["RANK"]), world_size=world_size, timeout=timeout)
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def group_attempt() -> int:
    """How many times torchrun started this group before (0 on the first attempt).

    Counted on the group's shared store when there is one: ``TORCHELASTIC_RESTART_COUNT`` counts one
    node's own failures, so on several nodes it differs between the ranks of one group."""
    return _attempt[0] if _attempt else int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def _attempt_store(world_size: int, timeout: timedelta) -> dist.Store | None:
    """torchrun's shared store, with keys of this attempt only; None when torchrun shares no store.

    torchrun (2.13) hands every restarted group the store of the first attempt and ``env://`` adds no
    prefix, so restarted ranks read the dead group's addresses and never connect. Each rank counts its
    starts on the store; as every rank of a group starts once per attempt, the count names the attempt.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    client = dist.TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size, is_master=False, timeout=timeout
    )
    _attempt[:] = [client.add(f"geocsp/starts/rank{os.environ['RANK']}", 1) - 1]
    return dist.PrefixStore(f"geocsp/attempt{_attempt[0]}", client)


def sync_ranks(where: str) -> None:
    """Wait until every rank reaches ``where``; :class:`PeerLost` naming the ranks that did not come
    within :func:`collective_timeout` (on gloo; another backend's barrier only times out)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    timeout = collective_timeout()
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=timeout), wait_all_ranks=True)
        else:
            dist.barrier()
    except RuntimeError as error:
        named = re.search(r"Ranks? ([\d, ]+) failed to pass", str(error))
        who = f"rank {named.group(1).strip()}" if named else "another rank"
        raise PeerLost(
            f"rank {dist.get_rank()}: {who} did not reach {where} within {timeout:g} s (dead or hung; "
            f"{TIMEOUT_VARIABLE} sets the wait): {error}"
        ) from error


#: How gloo words a peer that vanished or stopped answering (torch raises a plain RuntimeError).
_TRANSPORT_FAILURE = re.compile(r"Timed out waiting|Connection (?:closed|reset|refused)|gloo/transport")


@contextlib.contextmanager
def peer_watch(where: str) -> Iterator[None]:
    """Turn a collective that failed in the block because a peer died or hung into :class:`PeerLost`
    saying ``where``; any other error passes unchanged."""
    try:
        yield
    except RuntimeError as error:
        if isinstance(error, PeerLost) or not _TRANSPORT_FAILURE.search(str(error)):
            raise
        rank = dist.get_rank() if dist.is_initialized() else 0
        raise PeerLost(
            f"rank {rank}: {where} failed: another rank died or hung (waited at most {collective_timeout():g} s, "
            f"{TIMEOUT_VARIABLE}): {error}"
        ) from error


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
    from core.train.loop import checkpoint_run_config
    from core.train.records import LAST

    last = run_dir / "checkpoints" / LAST
    try:
        return recover_checkpoint(last) and checkpoint_run_config(last) == config.to_dict()
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
        state = {k: v.detach().contiguous() for k, v in task.model.state_dict().items()}
        save_file(state, str(Path(out_dir) / f"rank{rank}.safetensors"))
        (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(result.history))
    finally:
        dist.destroy_process_group()

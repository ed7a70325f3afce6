"""Process-group membership shared by training and feature extraction: join a ``torchrun`` launch
(:func:`init_from_environment`, gloo, collectives that give up after :func:`collective_timeout` seconds, a
store of this attempt's own when torchrun restarted the group), meet the other ranks (:func:`sync_ranks`,
naming a rank that is dead or hung in a :class:`PeerLost`) and turn a collective broken by a lost peer into
one (:func:`peer_watch`). The training side (run folders, launches, local ranks) is :mod:`core.train.distributed`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from datetime import timedelta

import torch
import torch.distributed as dist

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

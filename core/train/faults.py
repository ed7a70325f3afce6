"""A fault to inject, for testing that a ``torchrun`` group survives a lost worker.

``GEOCSP_FAULT="kill rank=1 epoch=2 step=0"`` makes rank 1 SIGKILL itself just before batch 0 (the
first) of epoch 2; ``hang`` instead of ``kill`` makes it sleep for good. ``step`` may equal the
epoch's number of batches: the end of the epoch, after its checkpoint, before the ranks meet. The
fault fires on a group's first attempt only (:func:`~core.ranks.group_attempt` 0), so the group that
``torchrun --max-restarts`` starts again runs clean. Unset (always, outside tests), it does nothing.
"""

from __future__ import annotations

import functools
import os
import signal
import time

from core.ranks import group_attempt

FAULT_VARIABLE = "GEOCSP_FAULT"
ACTIONS = ("kill", "hang")


@functools.cache
def _planned_fault() -> tuple[str, int, int, int] | None:
    """(action, rank, epoch, step) of the fault to inject in this process, or None."""
    text = os.environ.get(FAULT_VARIABLE, "").split()
    if not text or group_attempt() != 0:
        return None
    try:
        fields = dict(part.split("=", 1) for part in text[1:])
        planned = (text[0], int(fields["rank"]), int(fields["epoch"]), int(fields["step"]))
    except (ValueError, KeyError):
        planned = None
    if planned is None or planned[0] not in ACTIONS or len(fields) != 3:
        raise ValueError(f"{FAULT_VARIABLE} must read '<kill|hang> rank=R epoch=E step=S', got {' '.join(text)!r}")
    return planned


def fault_point(rank: int, epoch: int, step: int) -> None:
    """Inject the planned fault when ``rank`` is about to run batch ``step`` (0-based) of ``epoch`` (1-based)."""
    planned = _planned_fault()
    if planned is None or planned[1:] != (rank, epoch, step):
        return
    if planned[0] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        time.sleep(3600)

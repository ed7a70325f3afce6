"""Timing helpers the benchmarks share."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(function: Callable[[], object], repeats: int, warm_up: bool = False) -> float:
    """Median wall time of ``repeats`` calls of ``function``.

    With ``warm_up``, one untimed call comes first, and a warm-up longer than 1 s leaves a single timed call.
    """
    if warm_up:
        started = time.perf_counter()
        function()
        if time.perf_counter() - started > 1.0:
            repeats = 1
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)

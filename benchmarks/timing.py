"""Timing helpers the benchmarks share: median wall times and the machine's load."""

from __future__ import annotations

import os
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


def load_text() -> str:
    """The 1/5/15-minute load averages, as text (benchmarks print them beside their figures)."""
    return "load averages " + ", ".join(f"{value:.2f}" for value in os.getloadavg())

"""Batches of model work on worker threads, one torch intra-op thread each, results in order.

Small convolutional models on a CPU run faster as independent batches, one per core, than as one
batch split across the cores: each batch stays in its core's cache, no thread waits at a barrier
after every operator, and a core taken by another process delays only its own batch (on a shared
2-core machine, two intra-op threads ran 5–10× slower than two one-thread workers; see
``benchmarks/feature_extraction.py``). Decoding one batch also overlaps the forward of another.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_in_order(function: Callable[[Item], Result], items: Iterable[Item], workers: int) -> Iterator[Result]:
    """``function(item)`` of each item, computed on ``workers`` threads (one torch thread each), in order.

    At most ``2 × workers`` items are in flight. Closing the iterator early (use
    :func:`contextlib.closing`) cancels the items not started and waits for the running ones. The
    process's torch thread count, which new threads inherit, is restored at the end.
    """
    if workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    previous_threads = torch.get_num_threads()
    remaining = iter(items)
    pending: deque[Future[Result]] = deque()
    try:
        with ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            try:
                pending.extend(pool.submit(function, item) for item in itertools.islice(remaining, 2 * workers))
                while pending:
                    result = pending.popleft().result()
                    pending.extend(pool.submit(function, item) for item in itertools.islice(remaining, 1))
                    yield result
            finally:
                for future in pending:
                    future.cancel()
    finally:
        torch.set_num_threads(previous_threads)

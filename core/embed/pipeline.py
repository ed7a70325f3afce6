"""Reading and writing overlapped with the forward pass: :func:`read_ahead` runs an iterator in a thread that
stays ``depth`` items ahead of its consumer, :func:`write_behind` runs a writing function in a thread
``depth`` calls behind its caller. The queues between are bounded, so at most ``depth`` chunks wait on each
side and memory stays bounded by the chunk size; one thread per side keeps the order of the rows. An error
in either thread is raised in the caller's thread, and a failure on either side stops the other.

Parquet, GDAL and torch release the GIL in their heavy parts, so the threads really overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from queue import Empty, Full, Queue
from typing import TypeVar

T = TypeVar("T")
#: Seconds a blocked thread waits before it looks whether the other side stopped.
_POLL = 0.1
_END = object()


def _put(queue: Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` once there is room; False (not put) when ``stop`` is set first."""
    while not stop.is_set():
        try:
            queue.put(item, timeout=_POLL)
            return True
        except Full:
            continue
    return False


def _get(queue: Queue, stop: threading.Event) -> object:
    """The next item, or :data:`_END` when ``stop`` is set first."""
    while not stop.is_set():
        try:
            return queue.get(timeout=_POLL)
        except Empty:
            continue
    return _END


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items`` in order, produced in a thread up to ``depth`` ahead; an error there is raised here, and
    leaving the loop early stops the thread (and closes ``items``) before this returns."""
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(queue, (item, None), stop):
                    return
            _put(queue, (_END, None), stop)
        except BaseException as error:  # noqa: BLE001 — handed to the consumer, which raises it
            _put(queue, (_END, error), stop)
        finally:
            getattr(items, "close", lambda: None)()

    thread = threading.Thread(target=produce, name="embed-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = queue.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


@contextmanager
def write_behind(write: Callable[..., None], depth: int = 1) -> Iterator[Callable[..., None]]:
    """A ``submit(*args)`` that queues ``write(*args)`` for a thread, in order, at most ``depth`` waiting.

    Leaving the block normally waits for every queued write; an error in ``write`` is raised by the next
    ``submit`` or on leaving, and no later write runs. Leaving on an error stops the thread after its current
    write, dropping the queued ones; either way the thread has ended when the block is left.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def consume() -> None:
        while (args := _get(queue, stop)) is not _END:
            try:
                write(*args)
            except BaseException as error:  # noqa: BLE001 — raised in the caller's thread
                failure.append(error)
                stop.set()

    def submit(*args: object) -> None:
        if not _put(queue, args, stop) and failure:
            raise failure[0]

    thread = threading.Thread(target=consume, name="embed-write-behind", daemon=True)
    thread.start()
    try:
        yield submit
        _put(queue, _END, stop)
    except BaseException:
        stop.set()
        raise
    finally:
        thread.join()
    if failure:
        raise failure[0]

"""A delay after failed log-ins: each user name that fails is locked for a time that doubles with every
further failure (1 s, 2 s, 4 s … up to :data:`MAX_LOCK_S`), whichever session or browser tries it; a success
clears it. Kept in memory for the server's lifetime (process-wide, thread-safe, bounded)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_LOCK_S = 300.0
#: Names remembered at most (the oldest are forgotten first), so guessing random names cannot grow memory.
MAX_NAMES = 10_000


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


class LoginThrottle:
    """Per-name failure counts and lock-outs; ``clock`` is monotonic seconds (injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_names: int = MAX_NAMES) -> None:
        self._clock = clock
        self._max_names = max_names
        self._names: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, name: str) -> float:
        """Seconds before ``name`` may try again (0 when it may now)."""
        with self._lock:
            failures = self._names.get(_key(name))
            return max(0.0, failures.locked_until - self._clock()) if failures else 0.0

    def failed(self, name: str) -> float:
        """Record a failed attempt for ``name``; returns the lock-out it now has, in seconds."""
        with self._lock:
            key = _key(name)
            failures = self._names.pop(key, None) or _Failures()
            failures.count += 1
            lock = min(2.0 ** (failures.count - 1), MAX_LOCK_S)
            failures.locked_until = self._clock() + lock
            self._names[key] = failures
            while len(self._names) > self._max_names:
                self._names.popitem(last=False)
            return lock

    def succeeded(self, name: str) -> None:
        """Clear ``name``'s failures."""
        with self._lock:
            self._names.pop(_key(name), None)


def _key(name: str) -> str:
    return name.strip().casefold()

"""Run the app (``streamlit run app.py``) in a subprocess on a free local port: for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from core.data.paths import PROJECT_ROOT

#: Debian's Chromium, which Playwright drives in the browser tests and benchmarks (no ``playwright install``).
CHROMIUM = Path("/usr/bin/chromium")
#: Headless, offline-quiet Chromium: no sandbox (containers), no GPU, no background or update requests.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

#: The server's environment as ``make app`` sets it: two glibc malloc arenas, so memory freed by the sessions'
#: threads is reused and a long-running server does not grow session after session (benchmarks/multi_user.py).
SERVER_ENV = {"MALLOC_ARENA_MAX": "2"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, log_path: Path, timeout: float = 90.0) -> None:
    """Wait until the server at ``url`` answers its health check; raise if it exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"streamlit did not become healthy within {timeout:.0f} s; see {log_path}")


@contextmanager
def running_app(
    log_path: Path, env: dict[str, str] | None = None, timeout: float = 90.0, root: Path = PROJECT_ROOT,
    options: Sequence[str] = (),
) -> Iterator[str]:
    """The app in ``root`` (default: this checkout) served headless on 127.0.0.1 in ``make app``'s environment
    (``SERVER_ENV``), output to ``log_path``, with extra environment ``env`` and Streamlit ``options`` (such as
    ``--secrets.files PATH``); yields its URL once healthy and stops the server on leaving."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), *options],
            cwd=root, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **SERVER_ENV, "PYTHONPATH": str(root), **(env or {})},
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, server, log_path, timeout)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

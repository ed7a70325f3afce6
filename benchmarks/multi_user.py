"""Many users at once on the Predict page, in headless Chromium (issue 21 §2).

Trains the tiny runs of :mod:`benchmarks.predict_browser` into a temporary runs folder, starts ONE server
(``streamlit run``), opens and closes one warm-up session (its RSS after a settle is the warm baseline), then
starts ``--sessions`` separate processes, each with its own Chromium, that open Predict together, then (once
all have opened) click the map ``--clicks`` times each, then close together. It prints:

- open time per session (``goto /predict`` → map drawn) and click latency (click → P(y | x) chart changed):
  median, p95, max (targets: every open < 10 s, p95 click < 2 s);
- errors (a session's failure, an exception box in a page, a traceback in the server's log) and lost clicks
  (a click whose chart did not change within ``--click-timeout`` seconds): targets 0;
- the server's RSS (with its child processes) at the warm baseline, at peak (sampled every 0.2 s) and after
  all sessions closed and ``--settle`` seconds passed (targets: peak < 1 GB, after within 150 MB of baseline);
  with ``--rounds R``, the sessions come R times to the same server and the RSS after each round is printed (a
  server that runs for weeks must not grow round after round);
- the server's CPU seconds per page open and per click, and the browsers' (clients') CPU seconds in the same
  phases, with the load average: on a small machine the clients' CPU competes with the server's.

    python -m benchmarks.multi_user [--sessions 8] [--clicks 6] [--settle 20] [--rounds 1]
"""

from __future__ import annotations

import argparse
import collections
import math
import multiprocessing
import os
import queue
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from benchmarks.predict_browser import click_positions, click_until_chart_changes, open_predict, train_tiny_runs
from benchmarks.timing import load_text
from geovis.local_server import CHROMIUM, CHROMIUM_ARGS, running_app

#: The server's output, kept after the run for a look at its errors.
LOG_PATH = Path(tempfile.gettempdir()) / "geocsp-bench-multi-user-streamlit.log"
#: An exception shown in a page (``st.exception`` or an uncaught one in the script).
EXCEPTION_BOX = '[data-testid="stException"]'
#: Seconds the benchmark waits for all sessions to end a phase before it counts the missing ones as errors.
PHASE_TIMEOUT_S = 600.0
SAMPLE_EVERY_S = 0.2
MB = 1024 * 1024


@dataclass
class SessionResult:
    """One browser session: seconds to open Predict (None if it failed), each answered click's seconds, the
    clicks never answered, and what went wrong."""

    open_s: float | None = None
    clicks_s: list[float] = field(default_factory=list)
    lost_clicks: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    """One round of sessions: their results, the server's peak RSS (bytes) and CPU seconds in the open and click
    phases, and the clients' (every other process the benchmark started) CPU seconds in the same phases."""

    sessions: list[SessionResult]
    peak_rss: int
    server_cpu_open_s: float
    server_cpu_click_s: float
    client_cpu_open_s: float
    client_cpu_click_s: float


def session(index: int, url: str, clicks: int, click_timeout_s: float, results, go) -> None:
    """User ``index`` in its own process and Chromium: launch the browser and report; on ``go["open"]`` open
    Predict and report; on ``go["click"]`` click the map ``clicks`` times and report its :class:`SessionResult`;
    on ``go["close"]`` close the browser. Reports are ``(index, None | SessionResult)`` on ``results``; a failure
    ends the session with its result reported, never raised."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, sync_playwright

    result = SessionResult()
    in_flight: set = set()  # the page's requests not answered yet, and how many went to each path: named on a failure
    requested: collections.Counter = collections.Counter()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()
                page.on("request", lambda request: (in_flight.add(request), requested.update([urlsplit(request.url).path])))
                for answered in ("requestfinished", "requestfailed"):
                    page.on(answered, lambda request: in_flight.discard(request))
                results.put((index, None))
                go["open"].wait(PHASE_TIMEOUT_S)
                # Not "network idle": under load Playwright sometimes never reports it for a loaded page with no
                # request in flight (seen with 4 sessions); the app's own marker says the page has loaded.
                result.open_s, box = open_predict(page, url, network_idle=False)
                results.put((index, None))
                go["click"].wait(PHASE_TIMEOUT_S)
                for position in click_positions(clicks):
                    try:
                        result.clicks_s.append(click_until_chart_changes(page, box, position, int(click_timeout_s * 1000)))
                    except PlaywrightTimeout:
                        result.lost_clicks += 1
                    page.wait_for_timeout(300)  # a user's pause between clicks; not counted
                if shown := page.locator(EXCEPTION_BOX).count():
                    result.errors.append(f"{shown} exception(s) shown in the page")
                results.put((index, result))
                go["close"].wait(PHASE_TIMEOUT_S)
            finally:
                browser.close()
    except Exception as error:  # noqa: BLE001 — any failure of a session is a figure of the benchmark
        pending = sorted(request.url for request in in_flight)
        result.errors.append(
            f"{type(error).__name__}: {error}".splitlines()[0]
            + f" (requests in flight: {pending}; most requested: {requested.most_common(3)})"
        )
        results.put((index, result))


class ServerMonitor:
    """The server process and its children: RSS sampled every 0.2 s in a thread (its peak), and CPU seconds."""

    def __init__(self, url: str) -> None:
        port = url.rsplit(":", 1)[1]
        servers = [p for p in psutil.Process().children(recursive=True) if serves_port(_safe(p.cmdline, []), port)]
        if len(servers) != 1:
            raise RuntimeError(f"expected one streamlit server on port {port}, found {len(servers)}")
        self.process = servers[0]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def processes(self) -> list[psutil.Process]:
        """The server and its living children."""
        return [self.process, *self.process.children(recursive=True)]

    def rss(self) -> int:
        """Resident bytes of the server and its children now."""
        return sum(_safe(lambda p=p: p.memory_info().rss) for p in self.processes())

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server and its living children have used."""
        return sum(_safe(lambda p=p: sum(p.cpu_times()[:2])) for p in self.processes())

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> ServerMonitor:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def serves_port(command: list[str], port: str) -> bool:
    """Whether a command line is ``running_app``'s server on ``port``."""
    return "--server.port" in command[:-1] and command[command.index("--server.port") + 1] == port


def _safe(read, default=0):
    """``read()``, or ``default`` when its process has just ended."""
    try:
        return read()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return default


def client_cpu_s(server: psutil.Process) -> dict[int, float]:
    """CPU seconds of every process this benchmark started except the server and its children, by pid."""
    excluded = {server.pid, *(p.pid for p in server.children(recursive=True))}
    return {p.pid: _safe(lambda p=p: sum(p.cpu_times()[:2])) for p in psutil.Process().children(recursive=True) if p.pid not in excluded}


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two :func:`client_cpu_s` readings by the processes alive at the second."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def wait_for_phase(results, processes: list, finished: dict[int, SessionResult], phase: str) -> None:
    """Wait until every session not yet ``finished`` has reported the end of ``phase`` (an acknowledgement, or its
    final result, added to ``finished``); a session whose process ended without a report, or that reports nothing
    within ``PHASE_TIMEOUT_S``, is finished as failed."""
    waiting = set(range(len(processes))) - set(finished)
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    while waiting:
        try:
            index, report = results.get(timeout=1.0)
        except queue.Empty:
            for index in [i for i in waiting if not processes[i].is_alive() or time.monotonic() > deadline]:
                waiting.discard(index)
                finished[index] = SessionResult(errors=[f"session {index} ended without a report in the {phase} phase "
                                                        f"(exit code {processes[index].exitcode})"])
            continue
        waiting.discard(index)
        if report is not None:
            finished[index] = report


def run_sessions(url: str, monitor: ServerMonitor, count: int, clicks: int, click_timeout_s: float) -> LoadResult:
    """``count`` sessions in separate processes: all launch Chromium, then all open Predict at once, then all
    click, then all close. CPU is read between the phases, while every browser is still running."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    go = {phase: context.Event() for phase in ("open", "click", "close")}
    processes = [
        context.Process(target=session, args=(index, url, clicks, click_timeout_s, results, go), daemon=True)
        for index in range(count)
    ]
    for process in processes:
        process.start()
    finished: dict[int, SessionResult] = {}
    readings = []
    for ended, next_phase in (("launch", "open"), ("open", "click"), ("click", "close")):
        wait_for_phase(results, processes, finished, ended)
        readings.append((monitor.cpu_s(), client_cpu_s(monitor.process)))
        go[next_phase].set()
    for process in processes:
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
    (server_launched, clients_launched), (server_opened, clients_opened), (server_clicked, clients_clicked) = readings
    return LoadResult(
        sessions=[finished[index] for index in sorted(finished)], peak_rss=monitor.peak,
        server_cpu_open_s=server_opened - server_launched, server_cpu_click_s=server_clicked - server_opened,
        client_cpu_open_s=cpu_since(clients_launched, clients_opened), client_cpu_click_s=cpu_since(clients_opened, clients_clicked),
    )


def combined(loads: list[LoadResult]) -> LoadResult:
    """Several rounds as one: every session, the highest peak, the CPU seconds added up."""
    return LoadResult(
        sessions=[result for load in loads for result in load.sessions], peak_rss=max(load.peak_rss for load in loads),
        **{name: sum(getattr(load, name) for load in loads) for name in
           ("server_cpu_open_s", "server_cpu_click_s", "client_cpu_open_s", "client_cpu_click_s")},
    )


def settled_rss(monitor: ServerMonitor, settle_s: float) -> int:
    """The server's RSS after ``settle_s`` seconds without sessions."""
    time.sleep(settle_s)
    return monitor.rss()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in (0, 1]); NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class Summary:
    """What the benchmark prints, and the test checks."""

    load: LoadResult
    baseline_rss: int
    after_rss: list[int]  # after each round
    server_log_tracebacks: int

    @property
    def opens_s(self) -> list[float]:
        return [s.open_s for s in self.load.sessions if s.open_s is not None]

    @property
    def clicks_s(self) -> list[float]:
        return [t for s in self.load.sessions for t in s.clicks_s]

    @property
    def lost_clicks(self) -> int:
        return sum(s.lost_clicks for s in self.load.sessions)

    @property
    def errors(self) -> list[str]:
        log = [f"{self.server_log_tracebacks} traceback(s) in the server's log"] if self.server_log_tracebacks else []
        return [error for s in self.load.sessions for error in s.errors] + log

    def text(self) -> str:
        """The figures, one topic a line."""
        opens, clicks, load = self.opens_s, self.clicks_s, self.load
        count = len(load.sessions)
        return "\n".join([
            f"{count // len(self.after_rss)} sessions x {len(self.after_rss)} round(s) · {load_text()} on {os.cpu_count()} CPUs",
            f"open (goto → map drawn): median {_s(opens, 0.5)} · p95 {_s(opens, 0.95)} · max {_s(opens, 1.0)} s "
            f"(target every open < 10 s) · {[round(t, 2) for t in opens]}",
            f"click → chart: median {_s(clicks, 0.5)} · p95 {_s(clicks, 0.95)} · max {_s(clicks, 1.0)} s over {len(clicks)} clicks "
            "(target p95 < 2 s)",
            f"errors {len(self.errors)} · lost clicks {self.lost_clicks} (targets 0)" + "".join(f"\n  {e}" for e in self.errors[:10]),
            f"server RSS: warm baseline {self.baseline_rss / MB:.0f} MB · peak {load.peak_rss / MB:.0f} MB (target < 1024) · "
            f"after close {self.after_rss[-1] / MB:.0f} MB ({(self.after_rss[-1] - self.baseline_rss) / MB:+.0f} MB, target within 150)"
            + (f" · after each round {[round(rss / MB) for rss in self.after_rss]} MB" if len(self.after_rss) > 1 else ""),
            f"CPU s per page open: server {load.server_cpu_open_s / max(count, 1):.2f} · clients {load.client_cpu_open_s / max(count, 1):.2f}",
            f"CPU s per click: server {load.server_cpu_click_s / max(len(clicks), 1):.3f} · "
            f"clients {load.client_cpu_click_s / max(len(clicks), 1):.3f}",
        ])


def _s(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction):.2f}"


def measure(
    runs_dir: Path, sessions: int, clicks: int, settle_s: float, click_timeout_s: float = 30.0, rounds: int = 1,
    log_path: Path = LOG_PATH,
) -> Summary:
    """Start one server on ``runs_dir``; a warm-up session, then ``rounds`` times ``sessions`` at once; the figures."""
    with running_app(log_path, env={"GEOCSP_RUNS": str(runs_dir)}) as url:
        monitor = ServerMonitor(url)
        with monitor:
            warm_up = run_sessions(url, monitor, 1, clicks, click_timeout_s)
            baseline = settled_rss(monitor, settle_s)
            monitor.peak = baseline
            loads, after = [], []
            for _ in range(rounds):
                loads.append(run_sessions(url, monitor, sessions, clicks, click_timeout_s))
                after.append(settled_rss(monitor, settle_s))
        load = combined(loads)
        load.sessions = [*(s for s in warm_up.sessions if s.errors), *load.sessions]  # the warm-up's failures count too
    return Summary(load, baseline, after, log_path.read_text(errors="replace").count("Traceback"))


def main(argv: list[str] | None = None) -> None:
    """Train the tiny runs, then measure one server under ``--sessions`` users clicking ``--clicks`` times."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8, help="browser sessions at once (default 8)")
    parser.add_argument("--clicks", type=int, default=6, help="map clicks per session (default 6)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds without sessions before RSS is read (default 20)")
    parser.add_argument("--click-timeout", type=float, default=30.0, help="seconds after which a click counts as lost (default 30)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of sessions on the same server; RSS is read after each (default 1)")
    args = parser.parse_args(argv)
    if min(args.sessions, args.clicks, args.rounds) < 1:
        parser.error("--sessions, --clicks and --rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="geocsp-bench-multi-user-") as temporary:
        started = time.perf_counter()
        train_tiny_runs(Path(temporary) / "runs")
        print(f"trained two tiny runs in {time.perf_counter() - started:.1f} s", flush=True)
        print(measure(Path(temporary) / "runs", args.sessions, args.clicks, args.settle, args.click_timeout, args.rounds).text())


if __name__ == "__main__":
    main()

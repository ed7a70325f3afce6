"""Map click → prediction on the Predict page, in headless Chromium (issue 14).

Trains a tiny location model (stage finetune) and image classifier on the default dataset's small-CNN
features into a temporary runs folder, then, for each app measured, starts a fresh server
(``streamlit run``), opens ``/predict`` in Chromium and prints:

- Predict open on a fresh server: from ``goto /predict`` to the map drawn (target < 6 s);
- the first map click, once the page has loaded (its run ended, no request for 0.5 s) → the P(y | x) chart
  showing that place's distribution (target < 1 s);
- the median (and every value) of the later clicks → chart updated (target median < 0.4 s).

A click counts as answered when the chart's bar values differ from those before the click. ``--baseline REF``
also measures the app as it was at git revision ``REF`` (extracted to a temporary folder, sharing this
checkout's built assets and data cache), alternating with this checkout over ``--repeat`` rounds, so both
figures come from the same run and the same machine load.

    python -m benchmarks.predict_browser [--baseline 94ecbcc] [--repeat 2] [--clicks 10]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from core.data.paths import PROJECT_ROOT
from geovis.local_server import CHROMIUM, CHROMIUM_ARGS, running_app

MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: The bar values of the first chart on the page (P(y | x) when no photo is uploaded), or null before it exists.
CHART_VALUES = """() => {
    const chart = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    return chart && chart.data ? JSON.stringify(chart.data[0].x) : null;
}"""
#: The app's script run has ended (Streamlit's own marker); with the network idle, the page has loaded.
PAGE_READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
#: Ignored (never committed) folders of this checkout that an extracted revision uses: the data cache is linked,
#: the served assets copied (Streamlit refuses to serve a static file whose real path leaves ``static/``).
LINKED_BUILT, COPIED_BUILT = ("data/cache",), ("static/vendor",)
TIMEOUT_MS = 120_000
#: The server's output, kept after the run for a look when something is slow.
LOG_PATH = Path(tempfile.gettempdir()) / "geocsp-bench-predict-streamlit.log"


@dataclass
class Timings:
    """Seconds: Predict opened on a fresh server (map drawn), the first click and the later clicks → chart updated."""

    open_s: float
    first_click_s: float
    clicks_s: list[float]


def train_tiny_runs(runs_dir: Path) -> None:
    """The runs of the browser tests' ``predict_runs`` fixture: a small location model and image classifier."""
    from core.train.config import RunConfig
    from core.train.runner import new_run_dir, run

    location = {"encoding": "theory", "encoding_params": {"num_scales": 8}, "network_params": {"hidden_dim": 64}}
    for stage in ("finetune", "image_classifier"):
        config = RunConfig.from_dict({"stage": stage, "epochs": 1, "location": location, "data": {"image_encoder": "small_cnn"}})
        run(config, new_run_dir(stage, runs_dir))


def extract_revision(ref: str, into: Path) -> Path:
    """The tracked files of git revision ``ref`` under ``into``, with this checkout's built assets and data cache."""
    archive = subprocess.run(["git", "archive", ref], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    for relative in LINKED_BUILT:
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        (into / relative).symlink_to((PROJECT_ROOT / relative).resolve(), target_is_directory=True)
    for relative in COPIED_BUILT:
        shutil.copytree(PROJECT_ROOT / relative, into / relative)
    return into


def click_positions(count: int) -> list[tuple[float, float]]:
    """``count`` distinct click positions as fractions of the map's width and height, spread over its middle."""
    return [(0.25 + 0.5 * ((i * 0.618) % 1.0), 0.3 + 0.35 * ((i * 0.382) % 1.0)) for i in range(count)]


def click_until_chart_changes(page, box: dict, position: tuple[float, float], timeout_ms: int = TIMEOUT_MS) -> float:
    """Click the map at ``position`` (fractions of ``box``); seconds until the chart's values change (Playwright's
    ``TimeoutError`` after ``timeout_ms``)."""
    before = page.evaluate(CHART_VALUES)
    started = time.perf_counter()
    page.mouse.click(box["x"] + box["width"] * position[0], box["y"] + box["height"] * position[1])
    page.wait_for_function(
        f"(before) => {{ const now = ({CHART_VALUES})(); return now !== null && now !== before; }}",
        arg=before, polling="raf", timeout=timeout_ms,
    )
    return time.perf_counter() - started


def open_predict(page, url: str, network_idle: bool = True) -> tuple[float, dict]:
    """Open ``url``/predict in ``page``: seconds from ``goto`` to the map drawn; then wait until the page has
    loaded (its run ended and, with ``network_idle``, no request for 0.5 s) and return those seconds with the
    map's bounding box."""
    started = time.perf_counter()
    page.goto(f"{url}/predict", wait_until="domcontentloaded")
    page.frame_locator(MAP_FRAME).locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=TIMEOUT_MS)
    open_s = time.perf_counter() - started
    page.get_by_text("Click the map to predict").first.wait_for(timeout=TIMEOUT_MS)
    page.locator(PAGE_READY).wait_for(timeout=TIMEOUT_MS)
    if network_idle:
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    return open_s, page.locator(MAP_FRAME).bounding_box()


def measure(browser, root: Path, runs_dir: Path, clicks: int, log_path: Path) -> Timings:
    """Start the app in ``root`` on a fresh server, open Predict in a new browser context and click its map."""
    with running_app(log_path, env={"GEOCSP_RUNS": str(runs_dir)}, root=root) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1300})
        try:
            page = context.new_page()
            open_s, box = open_predict(page, url)
            times = []
            for position in click_positions(clicks + 1):
                times.append(click_until_chart_changes(page, box, position))
                page.wait_for_timeout(300)  # a user's pause between clicks; not counted
        finally:
            context.close()
    return Timings(open_s, times[0], times[1:])


def report(name: str, rounds: list[Timings]) -> None:
    """One line per app: medians over the rounds, every later click listed."""
    later = [t for timings in rounds for t in timings.clicks_s]
    print(
        f"{name}: Predict open on a fresh server {statistics.median(t.open_s for t in rounds):.2f} s (target < 6) · "
        f"first click → chart {statistics.median(t.first_click_s for t in rounds):.2f} s (target < 1) · "
        f"later clicks → chart median {statistics.median(later):.3f} s (target < 0.4)\n"
        f"  opens {[round(t.open_s, 2) for t in rounds]} · first clicks {[round(t.first_click_s, 2) for t in rounds]} · "
        f"later clicks {[round(t, 3) for t in later]}"
    )


def main(argv: list[str] | None = None) -> None:
    """Train the tiny runs, then measure this checkout (and ``--baseline``) over ``--repeat`` alternating rounds."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", metavar="REF", help="also measure the app at this git revision, in the same run")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per app, alternating; medians are printed (default 1)")
    parser.add_argument("--clicks", type=int, default=10, help="clicks after the first (default 10)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="geocsp-bench-predict-") as temporary:
        temporary = Path(temporary)
        started = time.perf_counter()
        train_tiny_runs(temporary / "runs")
        print(f"trained two tiny runs in {time.perf_counter() - started:.1f} s")
        apps = {"this checkout": PROJECT_ROOT}
        if args.baseline:
            apps = {f"baseline {args.baseline}": extract_revision(args.baseline, temporary / "baseline"), **apps}
        results: dict[str, list[Timings]] = {name: [] for name in apps}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for round_ in range(args.repeat):
                    for name, root in apps.items():
                        print(f"round {round_ + 1}, {name}: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
                        results[name].append(measure(browser, root, temporary / "runs", args.clicks, LOG_PATH))
            finally:
                browser.close()
    for name, rounds in results.items():
        report(name, rounds)


if __name__ == "__main__":
    main()

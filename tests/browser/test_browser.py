"""End to end in headless Chromium: the Overview map renders from local assets and nothing leaves the machine."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}; see {ARTIFACTS / 'streamlit.log'}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not become healthy within {timeout:.0f} s")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """The server's runs folder (GEOCSP_RUNS): tests may write finished runs there for the app to find."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def app_url(built_assets, request, runs_dir):
    """A streamlit server on a free local port (runs written to ``runs_dir``), stopped by its PID
    when the module's tests end."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    log = (ARTIFACTS / "streamlit.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT), "GEOCSP_RUNS": str(runs_dir)},
    )

    def stop() -> None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()

    request.addfinalizer(stop)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, server)
    return url


@contextmanager
def offline_page(app_url: str) -> Iterator[tuple]:
    """A Chromium page on the app and the list of URLs it requests; on leaving, asserts that no request
    left the machine and none failed."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    failures: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1300})
            context.on("request", lambda req: requests.append(req.url))
            context.on("requestfailed", lambda req: failures.append(f"{req.url} ({req.failure})"))
            context.on("response", lambda res: res.status >= 400 and failures.append(f"{res.url} ({res.status})"))
            page = context.new_page()
            page.goto(app_url, wait_until="domcontentloaded")
            yield page, requests
        finally:
            browser.close()

    remote = sorted({url for url in requests if urlparse(url).scheme in {"http", "https", "ws", "wss"}
                     and urlparse(url).hostname not in LOCAL_HOSTS})
    assert not remote, f"requests left the machine: {remote}"
    assert any("/app/static/vendor/leaflet/leaflet.js" in url for url in requests)
    assert not failures, f"failed requests: {failures}"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_overview_map_renders_offline(app_url):
    with offline_page(app_url) as (page, requests):
        # The first run may build the default dataset (under a minute) before the page fills in.
        page.get_by_text("Active dataset").first.wait_for(timeout=180_000)
        frame = page.frame_locator(MAP_FRAME)
        container = frame.locator(".leaflet-container")
        container.wait_for(timeout=60_000)
        frame.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=30_000)
        overlay = frame.locator("img.leaflet-image-layer")
        overlay.wait_for(timeout=30_000)
        page.wait_for_function(
            """() => {
                const doc = document.querySelector('iframe[title="streamlit_folium.st_folium"]').contentDocument;
                const img = doc && doc.querySelector('img.leaflet-image-layer');
                return img && img.complete && img.naturalWidth > 0;
            }""",
            timeout=30_000,
        )
        assert frame.locator(".leaflet-control-zoom").count() == 1
        box = container.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        page.wait_for_timeout(1500)  # let the canvas and the charts finish drawing
        screenshot(page, "overview")
    assert any("/app/static/vendor/basemap/bluemarble_mercator.jpg" in url for url in requests)


def test_browse_map_renders_and_a_click_shows_a_sample(app_url):
    with offline_page(app_url) as (page, _):
        page.get_by_text("Active dataset").first.wait_for(timeout=180_000)
        page.get_by_role("link", name="Browse").click()
        page.get_by_text("Shown samples").first.wait_for(timeout=180_000)
        frame = page.frame_locator(MAP_FRAME)
        container = frame.locator(".leaflet-container")
        container.wait_for(timeout=60_000)
        frame.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=30_000)
        box = container.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        page.get_by_text("Click the map").first.wait_for(timeout=30_000)
        container.click(position={"x": box["width"] * 0.52, "y": box["height"] * 0.35})
        page.get_by_text("km from the click").first.wait_for(timeout=30_000)
        page.locator('[data-testid="stImage"] img').first.wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        screenshot(page, "browse")


def test_a_short_pretraining_run_launches_and_finishes(app_url):
    with offline_page(app_url) as (page, _):
        page.get_by_text("Active dataset").first.wait_for(timeout=180_000)
        page.frame_locator(MAP_FRAME).locator(".leaflet-container").wait_for(timeout=60_000)
        page.get_by_role("link", name="Pre-train").click()
        page.get_by_text("Location encoder").first.wait_for(timeout=60_000)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Image features").click()
        page.get_by_role("option", name="small_cnn").click()
        for label, value in (("num_scales", "8"), ("hidden_dim", "64"), ("Epochs", "1")):
            field = page.get_by_label(label, exact=True)
            field.fill(value)
            field.press("Enter")
            page.wait_for_timeout(400)  # let the rerun settle
        page.get_by_role("button", name="Start", exact=True).click()
        page.get_by_role("button", name="Stop", exact=True).wait_for(timeout=30_000)
        # small_cnn features of the default dataset are extracted on the first run only (cached after).
        page.get_by_text(re.compile(r"^Run .+: completed$")).wait_for(timeout=300_000)
        page.get_by_text(re.compile(r"· pretrain · completed$")).first.wait_for(timeout=30_000)  # its run card
        page.wait_for_timeout(1000)
        screenshot(page, "pretrain")


def test_embedding_map_renders_its_hexes_and_a_click_shows_similar_ones(app_url):
    with offline_page(app_url) as (page, _):
        page.get_by_text("Active dataset").first.wait_for(timeout=180_000)
        page.get_by_role("link", name="Embedding map").click()
        page.get_by_text("Click a hexagon").first.wait_for(timeout=120_000)
        container = page.frame_locator(MAP_FRAME).locator(".leaflet-container")
        container.wait_for(timeout=60_000)
        frame = page.locator(MAP_FRAME).element_handle().content_frame()
        hexes = "() => window.map ? Object.values(window.map._layers).filter(l => l.feature && l.feature.properties.c).length : 0"
        frame.wait_for_function(f"({hexes})() === 5882", timeout=60_000)  # the world at H3 resolution 2
        box = container.bounding_box()
        container.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.45})
        page.get_by_text(re.compile(r"^Hex [0-9a-f]{15}$")).wait_for(timeout=30_000)
        page.get_by_text("Samples per class in these hexes").or_(page.get_by_text("No sample of")).first.wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        screenshot(page, "embedding_map")


def test_a_click_on_the_predict_map_shows_the_location_prediction(app_url, runs_dir):
    from core.train.config import RunConfig
    from core.train.runner import new_run_dir, run

    # A small location model on the default dataset (small-CNN features), where the server looks for runs.
    location = {"encoding": "theory", "encoding_params": {"num_scales": 8}, "network_params": {"hidden_dim": 64}}
    config = RunConfig.from_dict({"stage": "finetune", "epochs": 1, "location": location, "data": {"image_encoder": "small_cnn"}})
    run(config, new_run_dir("finetune", runs_dir))
    with offline_page(app_url) as (page, _):
        page.get_by_text("Active dataset").first.wait_for(timeout=180_000)
        page.get_by_role("link", name="Predict").click()
        page.get_by_text("Location model P(y | x)").first.wait_for(timeout=60_000)
        container = page.frame_locator(MAP_FRAME).locator(".leaflet-container")
        container.wait_for(timeout=60_000)
        page.get_by_text("Click the map to predict").first.wait_for(timeout=60_000)
        box = container.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        container.click(position={"x": box["width"] * 0.55, "y": box["height"] * 0.4})
        page.get_by_text("(your click)").first.wait_for(timeout=30_000)
        page.locator('[data-testid="stPlotlyChart"]').filter(has_text="P(y | x), from the location").wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        screenshot(page, "predict")

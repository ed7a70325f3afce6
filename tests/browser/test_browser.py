"""End to end in headless Chromium, offline: every page renders from local assets; map clicks, a geotagged
upload, a pre-training run (and its encoder downloaded) and two sessions training at once."""

import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from benchmarks.predict_browser import train_tiny_runs
from core.location import load_encoder
from geovis.local_server import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.data.fixtures import jpeg_with_gps_bytes

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """The server's runs folder (GEOCSP_RUNS): tests may write finished runs there for the app to find."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def app_url(built_assets, runs_dir) -> Iterator[str]:
    """A streamlit server on a free local port (runs written to ``runs_dir``), stopped when the module's tests end."""
    with running_app(ARTIFACTS / "streamlit.log", env={"GEOCSP_RUNS": str(runs_dir)}) as url:
        yield url


@contextmanager
def offline_pages(app_url: str, count: int, path: str = "") -> Iterator[tuple[list, list[str]]]:
    """``count`` Chromium pages on the app (at ``path``, e.g. ``/predict``), each in its own browser context (its
    own Streamlit session), and the list of URLs they request; on leaving, asserts that no request left the
    machine and none failed."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    failures: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            pages = []
            for _ in range(count):
                context = browser.new_context(viewport={"width": 1400, "height": 1300})
                context.on("request", lambda req: requests.append(req.url))
                context.on("requestfailed", lambda req: failures.append(f"{req.url} ({req.failure})"))
                context.on("response", lambda res: res.status >= 400 and failures.append(f"{res.url} ({res.status})"))
                pages.append(context.new_page())
            for page in pages:
                page.goto(app_url + path, wait_until="domcontentloaded")
            yield pages, requests
        finally:
            browser.close()

    remote = sorted({url for url in requests if urlparse(url).scheme in {"http", "https", "ws", "wss"}
                     and urlparse(url).hostname not in LOCAL_HOSTS})
    assert not remote, f"requests left the machine: {remote}"
    assert any("/app/static/vendor/leaflet/leaflet.js" in url for url in requests)
    # On a deep link Streamlit's frontend first probes ``/<page>/_stcore/...`` as a possible base path (404),
    # then uses the server root: those probes are expected.
    # A request the browser itself cancels (net::ERR_ABORTED: an iframe replaced by a rerun, or the page closed
    # while a redrawn map still loads) is not a failed request; the test's own waits check what must load.
    probes = f"{app_url}{path}/_stcore/" if path else None
    failures = [failure for failure in failures
                if not (probes and failure.startswith(probes)) and not failure.endswith("(net::ERR_ABORTED)")]
    assert not failures, f"failed requests: {failures}"


@contextmanager
def offline_page(app_url: str, path: str = "") -> Iterator[tuple]:
    """One page of :func:`offline_pages` and the URLs it requests."""
    with offline_pages(app_url, 1, path) as ([page], requests):
        yield page, requests


def wait_until_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the app's script is not running (Streamlit shows its running icon after 500 ms of a run)."""
    page.wait_for_timeout(700)
    page.locator('[data-testid="stStatusWidgetRunningIcon"]').wait_for(state="detached", timeout=timeout_ms)


def server_log_tail(lines: int = 40) -> str:
    """The last ``lines`` lines of the test server's log, for a failure message."""
    log = ARTIFACTS / "streamlit.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


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


APP_NAVIGATION = ["Overview", "Browse", "Pre-train", "Predict", "Compare", "Embedding map", "Encoder inspector", "Probe"]


def sidebar_navigation(page) -> list[str]:
    """The page titles in the sidebar's navigation, in order (icons left out)."""
    return [text.splitlines()[-1].strip() for text in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def test_a_deep_link_shows_the_apps_navigation_from_the_start_and_while_its_first_run_is_in_flight(app_url):
    with offline_page(app_url, "/predict") as (page, _):
        shown = []
        deadline = time.monotonic() + 60
        while (navigation := sidebar_navigation(page)) != APP_NAVIGATION:
            shown.append(navigation)
            assert time.monotonic() < deadline, f"the sidebar never showed the app's navigation: {shown[-5:]}"
            page.wait_for_timeout(50)
        assert all(not entries or entries == APP_NAVIGATION for entries in shown), f"other navigation shown: {shown}"
        page.get_by_role("link", name="Browse").click()  # at once, the first run of /predict may still be going
        page.get_by_text("Shown samples").first.wait_for(timeout=120_000)
        assert sidebar_navigation(page) == APP_NAVIGATION
        page.frame_locator(MAP_FRAME).locator(".leaflet-container").wait_for(timeout=60_000)  # loaded before closing
        page.get_by_role("link", name="Predict").click()
        page.get_by_role("heading", name="Predict").wait_for(timeout=60_000)
        assert sidebar_navigation(page) == APP_NAVIGATION


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


def test_zooming_the_browse_map_and_showing_that_view_draws_its_samples_as_markers(app_url):
    with offline_page(app_url) as (page, _):
        page.get_by_text(re.compile(r"^Active dataset: ")).wait_for(timeout=180_000)
        page.frame_locator(MAP_FRAME).locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
        page.get_by_role("link", name="Browse").click()  # each map loads fully before the page replaces it
        page.get_by_text("Shown samples").first.wait_for(timeout=60_000)
        frame = page.frame_locator(MAP_FRAME).last  # while a map is redrawn, the old frame may linger a moment
        frame.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Region").click()
        page.get_by_role("option", name="Current view").click()
        button = page.get_by_role("button", name="Show this view")
        button.wait_for(timeout=60_000)
        frame.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        for _ in range(3):
            frame.locator(".leaflet-control-zoom-in").click()
            page.wait_for_timeout(1500)  # the zoom animation, then the map reports its bounds
        button.click()
        page.get_by_text(re.compile(r"^Region: the map view .+°[EW] → .+°[EW], .+°[NS] – .+°[NS]$")).wait_for(timeout=60_000)
        page.locator('[data-testid="stMetric"]').filter(has_text="Drawn as").filter(has_text="markers").wait_for(timeout=30_000)
        frame.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)  # the redrawn map finishes loading before the page closes
        screenshot(page, "browse_current_view")


def set_up_tiny_pretraining_run(page, epochs: int = 1) -> None:
    """From Overview (once its map has loaded Leaflet), open Pre-train and set a tiny run: small_cnn features,
    degree 4 (the default spherical harmonics), hidden_dim 64, batch size 2048 (a few steps per epoch), ``epochs`` epochs."""
    page.get_by_text("Active dataset").first.wait_for(timeout=180_000)
    page.frame_locator(MAP_FRAME).locator(".leaflet-container").wait_for(timeout=60_000)
    page.get_by_role("link", name="Pre-train").click()
    page.get_by_text("Location encoder").first.wait_for(timeout=60_000)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Image features").click()
    page.get_by_role("option", name="small_cnn").click()
    for label, value in (("degree", "4"), ("hidden_dim", "64"), ("Batch size", "2048"), ("Epochs", str(epochs))):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        page.wait_for_timeout(400)  # let the rerun settle


def test_a_short_pretraining_run_launches_and_finishes_and_its_encoder_downloads(app_url, tmp_path):
    with offline_page(app_url) as (page, _):
        set_up_tiny_pretraining_run(page)
        page.get_by_role("button", name="Start", exact=True).click()
        page.get_by_role("button", name="Stop", exact=True).wait_for(timeout=30_000)
        # small_cnn features of the default dataset are extracted on the first run only (cached after).
        page.get_by_text(re.compile(r"^Run .+: completed$")).wait_for(timeout=300_000)
        card = page.get_by_text(re.compile(r"· pretrain · completed$")).first
        card.wait_for(timeout=30_000)  # its run card
        page.wait_for_timeout(1000)
        screenshot(page, "pretrain")

        card.click()  # open the card: its encoder downloads as a zipped model folder, built on click
        wait_until_idle(page)  # a rerun replaces the button's deferred file: click the one the last run made
        try:  # the export traces the encoder to ONNX (10-20 s on this machine); Streamlit's client waits 180 s
            with page.expect_download(timeout=170_000) as download:
                page.get_by_role("button", name=re.compile("Download the encoder")).first.click()
        except PlaywrightTimeoutError:
            pytest.fail(f"no download came; the server's log ends with:\n{server_log_tail()}")
        archive = tmp_path / download.value.suggested_filename
        download.value.save_as(archive)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path)
    folder = tmp_path / archive.stem
    assert re.fullmatch(r"\d{8}-\d{6}-pretrain-[0-9a-f]{6}-encoder\.zip", archive.name) and {p.name for p in folder.iterdir()} == {
        "config.json", "encoder.safetensors", "MODEL_CARD.md", "encoder.onnx", "encoder.pt"}
    assert load_encoder(folder).encode(lonlat=[[2.35, 48.85]]).shape[0] == 1


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


@pytest.fixture(scope="module")
def predict_runs(runs_dir) -> None:
    """A small location model (stage finetune) and image classifier on the default dataset (small-CNN features),
    trained where the server looks for runs."""
    train_tiny_runs(runs_dir)


def open_predict(page):
    """Open Predict from Overview; returns the map's Leaflet container once it is drawn."""
    page.get_by_text("Active dataset").first.wait_for(timeout=180_000)
    page.get_by_role("link", name="Predict").click()
    page.get_by_text("Location model P(y | x)").first.wait_for(timeout=60_000)
    container = page.frame_locator(MAP_FRAME).locator(".leaflet-container")
    container.wait_for(timeout=60_000)
    return container


def test_a_click_on_the_predict_map_shows_the_location_prediction(app_url, predict_runs):
    with offline_page(app_url) as (page, _):
        container = open_predict(page)
        page.get_by_text("Click the map to predict").first.wait_for(timeout=60_000)
        box = container.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        container.click(position={"x": box["width"] * 0.55, "y": box["height"] * 0.4})
        page.get_by_text("(your click)").first.wait_for(timeout=30_000)
        page.locator('[data-testid="stPlotlyChart"]').filter(has_text="P(y | x), from the location").wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        screenshot(page, "predict")


def test_an_uploaded_geotagged_photo_is_pinned_and_shows_its_three_distributions(app_url, predict_runs):
    photo = {"name": "sydney.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps_bytes(-33.8568, 151.2153, size=(96, 64))}
    with offline_page(app_url) as (page, _):
        container = open_predict(page)
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(photo)
        page.get_by_text("Pin at latitude -33.8568, longitude 151.2153 (the photo's GPS position).").wait_for(timeout=120_000)
        page.locator('[data-testid="stImage"]').filter(has_text="sydney.jpg").wait_for(timeout=30_000)
        for title in ("P(y | I), from the photo", "P(y | x), from the location", "P(y | I, x), calibrated fusion"):
            page.locator('[data-testid="stPlotlyChart"]').filter(has_text=title).wait_for(timeout=60_000)
        container.wait_for(timeout=30_000)
        page.frame_locator(MAP_FRAME).locator(".leaflet-tooltip").filter(has_text="photo").wait_for(timeout=30_000)  # the pin
        box = container.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        page.set_viewport_size({"width": 1400, "height": 1900})  # the charts below the map in the screenshot
        page.wait_for_timeout(800)
        screenshot(page, "predict_upload")


OWN_RUN = re.compile(r"^Run (\S+): (queued|running|completed|stopped)$")


def own_run(page) -> tuple[str, str]:
    """(run name, or job id while queued; status) from the Pre-train page's one heading of the session's own run."""
    heading = page.get_by_text(OWN_RUN)
    heading.first.wait_for(timeout=60_000)
    assert heading.count() == 1, f"more than one run heading: {heading.all_inner_texts()}"
    return OWN_RUN.match(heading.inner_text()).groups()


RUN_NAME = r"\d{8}-\d{6}-pretrain-[0-9a-f]{6}"


def wait_for_status(page, status: str, timeout: float) -> str:
    """The session's own run's name (its job id while queued) once its heading shows ``status``."""
    name = r"\S+" if status == "queued" else RUN_NAME  # a run is named by its folder once it has one
    page.get_by_text(re.compile(rf"^Run {name}: {status}$")).wait_for(timeout=timeout * 1000)
    return own_run(page)[0]


def test_two_sessions_launching_runs_at_once_both_finish_privately_while_the_app_stays_responsive(app_url, runs_dir):
    """Session A's run trains until A stops it, so B's run is seen queued behind it however fast the machine is;
    B visits another page meanwhile; once A stops, B's one-epoch run trains and B's page shows it finish."""
    with offline_pages(app_url, 2) as ((a, b), _):
        set_up_tiny_pretraining_run(a, epochs=500)
        set_up_tiny_pretraining_run(b, epochs=1)
        before = set(runs_dir.iterdir())
        a.get_by_role("button", name="Start", exact=True).click()
        running_name = wait_for_status(a, "running", 60)
        b.get_by_role("button", name="Start", exact=True).click()
        queued_id = wait_for_status(b, "queued", 60)
        b.get_by_text("Waiting in the queue, position 1").wait_for(timeout=10_000)
        assert b.get_by_text(running_name).count() == 0  # the other session's run is not shown

        b.get_by_role("link", name="Overview").click()
        b.get_by_text(re.compile(r"^Active dataset: ")).wait_for(timeout=60_000)
        b.frame_locator(MAP_FRAME).locator(".leaflet-container").wait_for(timeout=60_000)
        b.get_by_role("link", name="Pre-train").click()
        epochs = b.get_by_label("Epochs", exact=True)
        epochs.wait_for(timeout=60_000)
        assert epochs.input_value() == "1", "the form kept its settings during the visit to Overview"
        assert own_run(b) == (queued_id, "queued") and own_run(a) == (running_name, "running")

        a.get_by_role("button", name="Stop", exact=True).click()
        assert wait_for_status(a, "stopped", 120) == running_name
        completed_name = wait_for_status(b, "completed", 300)  # B's page polls its run to the end
        b.get_by_text("Waiting in the queue").wait_for(state="detached", timeout=30_000)
        assert completed_name not in (running_name, queued_id)
        assert {running_name, completed_name} == {d.name for d in set(runs_dir.iterdir()) - before}, "each session names its own new run"
        for page, name in ((a, "two_sessions_a"), (b, "two_sessions_b")):
            page.get_by_text(OWN_RUN).scroll_into_view_if_needed()
            screenshot(page, name)

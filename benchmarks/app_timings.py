"""Server-side app timings on the built default dataset (Streamlit AppTest, no browser).

- first page: from ``streamlit run`` to Overview's heading and map drawn in headless Chromium (when
  /usr/bin/chromium exists; the browser is started beforehand), and a fresh Python process importing the
  app and rendering Overview in AppTest (target < 5 s);
- page switch: each page rendered after the previous one (target < 1 s; the first visit of a page
  includes building its caches, a second visit is what switching back costs);
- map click → prediction on Predict: whole-page rerun after a click (target < 300 ms).

Trains two tiny runs (small-CNN image features) into a temporary runs folder so Predict has models.

    python -m benchmarks.app_timings
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.data.paths import PROJECT_ROOT
from geovis.local_server import CHROMIUM, CHROMIUM_ARGS, running_app

PAGES = ["app_pages/browse.py", "app_pages/pretrain.py", "app_pages/predict.py", "app_pages/compare.py", "app_pages/embedding_map.py", "app_pages/overview.py"]
FIRST_PAGE = """
import time
started = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
assert not at.exception, at.exception
print(time.perf_counter() - started)
"""


def train_tiny_runs() -> None:
    from core.train.config import RunConfig
    from core.train.runner import run

    common = {"epochs": 2, "data": {"image_encoder": "small_cnn"}, "finetune": {"label_ratio": 0.2}}
    run(RunConfig.from_dict({**common, "stage": "finetune", "location": {"encoding": "sphereM+"}}))
    run(RunConfig.from_dict({**common, "stage": "image_classifier"}))


def browser_first_page() -> tuple[float, float]:
    """Seconds from starting ``streamlit run`` to (the server healthy, Overview's heading and map drawn in Chromium)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        started = time.perf_counter()
        with running_app(Path(tempfile.gettempdir()) / "geocsp-bench-streamlit.log") as url:
            healthy = time.perf_counter() - started
            page.goto(url)
            page.get_by_text(re.compile(r"^Active dataset: ")).wait_for(timeout=120_000)
            page.frame_locator('iframe[title="streamlit_folium.st_folium"]').locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
            rendered = time.perf_counter() - started
        browser.close()
    return healthy, rendered


def main() -> None:
    os.environ.setdefault("GEOCSP_RUNS", tempfile.mkdtemp(prefix="geocsp-bench-runs-"))
    started = time.perf_counter()
    train_tiny_runs()
    print(f"trained two tiny runs in {time.perf_counter() - started:.1f} s (runs in {os.environ['GEOCSP_RUNS']})")

    first = [
        float(subprocess.run([sys.executable, "-c", FIRST_PAGE], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout)
        for _ in range(2)
    ]
    print(f"first page (fresh process, Overview in AppTest): {min(first):.2f} s best of 2 (target < 5 s)")
    if CHROMIUM.exists():
        healthy, rendered = browser_first_page()
        print(f"first page in Chromium: server healthy after {healthy:.2f} s, Overview with its map drawn after {rendered:.2f} s (target < 5 s)")

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    at.run()
    print(f"{'page':<24}{'first visit s':>14}{'switch back s':>15}")
    for page in PAGES:
        timings = []
        for _ in range(2):
            t0 = time.perf_counter()
            at.switch_page(page).run()
            timings.append(time.perf_counter() - t0)
            assert not at.exception, (page, at.exception)
            at.switch_page("app_pages/overview.py" if page != "app_pages/overview.py" else "app_pages/browse.py").run()
        print(f"{page:<24}{timings[0]:>14.2f}{timings[1]:>15.2f}")

    at.switch_page("app_pages/predict.py").run()
    clicks = []
    for lat, lng in [(48.8, 2.3), (-3.1, -60.0), (35.7, 139.7), (-33.9, 18.4), (64.1, -21.9), (19.4, -99.1)]:
        at.session_state["predict_map"] = {"last_clicked": {"lat": lat, "lng": lng}}
        t0 = time.perf_counter()
        at.run()
        clicks.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    print(f"map click → P(y|x) on Predict (whole-page rerun, upper bound): median {1000 * statistics.median(clicks):.0f} ms, "
          f"min {1000 * min(clicks):.0f} ms (target < 300 ms)")


if __name__ == "__main__":
    main()

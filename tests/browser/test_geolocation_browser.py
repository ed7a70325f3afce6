"""End to end in headless Chromium, offline: a photo without GPS uploaded on Predict is geolocated, and the
heatmap of where it was taken is drawn with its top places, the run's best guess and the table of nearest cities."""

from pathlib import Path

import pytest

from tests.browser.test_browser import (  # noqa: F401 — app_url, runs_dir and predict_runs are fixtures
    CHROMIUM, MAP_FRAME, app_url, offline_page, open_predict, predict_runs, runs_dir, screenshot,
)
from tests.data.fixtures import photo_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def csp_run(runs_dir: Path) -> None:  # noqa: F811
    """A small CSP pre-training run on the default dataset (small-CNN features), where the server looks for runs, with
    a calibration file that keeps its trained τ and chooses a re-ranking of the photo's neighbours (its best guess)."""
    from core.train.config import RunConfig
    from core.train.runner import new_run_dir, run
    from core.workflows.geolocation_calibration import Calibration, TemperatureFit, save_calibration
    from core.workflows.geolocation_rerank import RerankFit, RerankSettings

    location = {"encoding": "theory", "encoding_params": {"num_scales": 8}, "network_params": {"hidden_dim": 64}}
    config = RunConfig.from_dict({"stage": "pretrain", "epochs": 1, "location": location, "data": {"image_encoder": "small_cnn"}})
    result = run(config, new_run_dir("pretrain", runs_dir))
    trained = TemperatureFit(0.1, -8.0, -8.0)
    rerank = RerankFit(RerankSettings(k=16, kappa=1e4, similarity_tau=0.05, csp_weight=2.0), {"200": 0.0}, {"200": 0.0}, 0)
    save_calibration(result.run_dir, Calibration(trained, trained, 0.1, "val", 0, 3, None, rerank))


def test_a_photo_without_gps_shows_the_heatmap_of_where_it_was_taken(app_url, predict_runs, csp_run):  # noqa: F811
    photo = {"name": "no_gps.png", "mimeType": "image/png", "buffer": photo_bytes("PNG", size=(96, 64))}
    with offline_page(app_url) as (page, _):
        open_predict(page)
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(photo)
        page.get_by_role("heading", name="Where was this taken?").wait_for(timeout=120_000)
        heatmap = page.frame_locator(MAP_FRAME).nth(1)
        heatmap.locator(".leaflet-container").wait_for(timeout=120_000)
        heatmap.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
        heatmap.locator(".leaflet-tooltip").filter(has_text="1").first.wait_for(timeout=60_000)  # the top place
        heatmap.locator(".leaflet-tooltip").filter(has_text="best guess").wait_for(timeout=60_000)  # drawn offline too
        page.get_by_text("credible region").first.wait_for(timeout=30_000)
        table = page.locator('[data-testid="stDataFrame"]').last
        table.wait_for(timeout=30_000)
        box = page.locator(f"{MAP_FRAME}").nth(1).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        page.set_viewport_size({"width": 1400, "height": 2400})
        page.locator(f"{MAP_FRAME}").nth(1).scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        screenshot(page, "predict_geolocation")

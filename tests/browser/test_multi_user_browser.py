"""Several users at once on Predict (issue 21 §2), through the multi-user benchmark's own code, made small: two
Chromium sessions in their own processes open Predict together and click its map against one server."""

import pytest

from benchmarks import multi_user
from benchmarks.predict_browser import train_tiny_runs
from geovis.local_server import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"),
]

#: How far above its warm baseline the server's RSS may stay once two sessions have closed (about 1 MB here, 9 MB
#: without make app's two malloc arenas).
KEPT_AFTER_CLOSE = 60 * multi_user.MB


def test_two_users_at_once_lose_no_click_and_the_server_gives_their_memory_back(built_assets, tmp_path):
    train_tiny_runs(tmp_path / "runs")
    summary = multi_user.measure(tmp_path / "runs", sessions=2, clicks=2, settle_s=3.0, log_path=tmp_path / "streamlit.log")
    print(summary.text())
    assert summary.errors == []
    assert summary.lost_clicks == 0
    assert len(summary.opens_s) == 2 and len(summary.clicks_s) == 4
    assert summary.load.peak_rss >= summary.baseline_rss > 0
    assert summary.after_rss[-1] - summary.baseline_rss < KEPT_AFTER_CLOSE, summary.text()
    assert summary.load.server_cpu_click_s > 0 and summary.load.client_cpu_click_s > 0

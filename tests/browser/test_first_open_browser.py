"""First open in headless Chromium, offline: from an empty runs folder, the starter build (``python -m core starter``,
what ``make app`` runs, here with a tiny budget) then the app; a new user opens Predict, clicks the map and sees
P(y | x) without training anything."""

import subprocess
import sys
from pathlib import Path

import pytest

from core.data.paths import PROJECT_ROOT
from geovis.local_server import CHROMIUM, running_app
from tests.browser.test_browser import ARTIFACTS, offline_page, open_predict, screenshot

#: A tiny budget for the starter runs (low-degree harmonics, one epoch each, the fast small-CNN features).
TINY_STARTER = (
    "epochs=1", "batch_size=1024", "data.image_encoder=small_cnn", "location.encoding_params={degree: 4}",
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"),
    pytest.mark.skipif(not (PROJECT_ROOT / "data/cache/default/manifest.json").exists(), reason="default dataset not built (run setup)"),
]


def build_starters(runs_dir: Path) -> str:
    """Run the starter build as setup does (a subprocess of the CLI) into ``runs_dir``; its printed output."""
    overrides = [arg for value in TINY_STARTER for arg in ("--set", value)]
    result = subprocess.run(
        [sys.executable, "-m", "core", "starter", "--runs", str(runs_dir), *overrides],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def chosen_run(page, label: str) -> str:
    """The text of the option shown by the select box labelled ``label`` (its visible text and input values)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    return box.evaluate("(el) => el.innerText + ' ' + [...el.querySelectorAll('input')].map(i => i.value).join(' ')")


def test_from_an_empty_runs_folder_the_starter_build_lets_a_first_click_on_predict_show_p_y_given_x(built_assets, tmp_path):
    runs_dir = tmp_path / "runs"
    output = build_starters(runs_dir)
    assert "starter-pretrain: training" in output and "starter runs ready" in output
    assert sorted(path.name for path in runs_dir.iterdir()) == ["starter-finetune", "starter-image-classifier", "starter-pretrain"]
    assert "starter-pretrain: up to date, skipped" in build_starters(runs_dir), "a second setup does not retrain"

    with running_app(ARTIFACTS / "streamlit-first-open.log", env={"GEOCSP_RUNS": str(runs_dir)}) as url:
        with offline_page(url) as (page, _):
            container = open_predict(page)
            page.get_by_text("Click the map to predict").first.wait_for(timeout=60_000)
            assert "starter-finetune" in chosen_run(page, "Location model P(y | x)")
            assert "starter-image-classifier" in chosen_run(page, "Image model P(y | I)")
            box = container.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 300
            container.click(position={"x": box["width"] * 0.55, "y": box["height"] * 0.4})
            page.get_by_text("(your click)").first.wait_for(timeout=30_000)
            chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="P(y | x), from the location")
            chart.wait_for(timeout=30_000)
            assert page.get_by_text("No trained location model yet").count() == 0
            page.wait_for_timeout(500)
            screenshot(page, "first_open_predict")

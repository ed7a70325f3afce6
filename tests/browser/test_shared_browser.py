"""A shared app in headless Chromium: deep links to every page show only the log-in form (no navigation, no page
content), the static route serves the public vendored assets and nothing outside them, and the right password
opens the app with the user named in the sidebar."""

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.access.passwords import hash_password
from geovis.local_server import CHROMIUM, CHROMIUM_ARGS, running_app

ROOT = Path(__file__).resolve().parents[2]
PAGE_PATHS = sorted(path.stem for path in (ROOT / "app_pages").glob("*.py") if path.stem != "overview")
PASSWORD = "a long enough password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def shared_url(built_assets, tmp_path_factory) -> Iterator[str]:
    """The app in shared mode with one user, ``alice``, its runs folder holding a private file."""
    folder = tmp_path_factory.mktemp("shared")
    secrets = folder / "secrets.toml"
    secrets.write_text(f'[geocsp]\nshared = true\n\n[geocsp.users]\nalice = "{hash_password(PASSWORD)}"\n')
    runs = folder / "runs"
    runs.mkdir()
    (runs / "private.txt").write_text("not for the network")
    with running_app(ROOT / "test-artifacts" / "streamlit-shared.log", env={"GEOCSP_RUNS": str(runs)},
                     options=("--secrets.files", str(secrets))) as url:
        yield url


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_deep_links_show_only_the_log_in_and_the_password_opens_the_app(shared_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            for path in ["", *PAGE_PATHS]:
                page.goto(f"{shared_url}/{path}", wait_until="domcontentloaded")
                page.get_by_text("Log in to GeoCSP").wait_for(timeout=120_000)
                page.wait_for_timeout(500)
                body = page.locator("body").inner_text()
                assert page.locator('[data-testid="stSidebarNav"]').count() == 0, f"/{path} shows the navigation"
                assert not re.search(r"Active dataset|Pre-train|Embedding map|Encoder inspector", body), f"/{path}: {body[:300]}"
            page.get_by_label("User name").fill("alice")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_text("Signed in as alice").wait_for(timeout=60_000)
            page.get_by_text("Active dataset").first.wait_for(timeout=180_000)
        finally:
            browser.close()


def test_the_static_route_serves_the_public_assets_only(shared_url):
    assert status(f"{shared_url}/app/static/vendor/leaflet/leaflet.js") == 200
    for private in ("/app/static/../runs/private.txt", "/app/static/%2e%2e/.streamlit/secrets.toml",
                    "/app/static/../app.py", "/media/../runs/private.txt"):
        assert status(shared_url + private) in (400, 403, 404), private
    served = {path.relative_to(ROOT / "static").parts[0] for path in (ROOT / "static").rglob("*") if path.is_file()}
    assert served <= {"vendor"}, f"the static folder holds more than the vendored public assets: {served}"

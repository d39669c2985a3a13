"""A real browser (Debian chromium through Playwright) loads the running app and sees the maps."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from app.server import serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed")]


@pytest.fixture(scope="module")
def server(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory):
    env = {"PRECIP_DATA": str(demo_archive), "PRECIP_CACHE": str(tmp_path_factory.mktemp("cache"))}
    with serve(env) as url:
        yield url


def screenshot(url: str, path: Path | None = None, wait_charts: int = 3) -> tuple[bytes, str]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.goto(url, wait_until="networkidle", timeout=180_000)
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {wait_charts}", timeout=180_000)
        page.wait_for_timeout(1500)
        png = page.screenshot(path=str(path) if path else None, full_page=True)
        text = page.inner_text("body")
        browser.close()
    return png, text


def test_main_page_renders_maps_in_a_real_browser(server: str, tmp_path: Path):
    _png, text = screenshot(server, tmp_path / "main.png")
    assert "Traceback" not in text and "Error" not in text
    assert "Hourly rain over Korea" in text and "KST" in text
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / "main.png").convert("L"), dtype=float)
    assert img.std() > 20, "the page is not blank"
    assert len(np.unique(img)) > 50, "maps add many shades"

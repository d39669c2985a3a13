"""A real browser (Debian chromium through Playwright) loads the running app and sees the maps."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed")]
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory):
    port = _free_port()
    env = {**os.environ, "PRECIP_DATA": str(demo_archive), "PRECIP_CACHE": str(tmp_path_factory.mktemp("cache"))}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app" / "main.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


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

"""Screenshots of every app page into docs/ (for the README): `python docs/make_screenshots.py`.

Starts the app on the demo archive (PRECIP_DATA, default demo_data/) and drives Debian chromium with Playwright.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_browser import CHROMIUM, _free_port, screenshot

PAGES = {
    "main": ("", 5),
    "verification": ("Verification", 3),
    "case_library": ("Case_library", 0),
    "model_card": ("Model_card", 0),
}


def main() -> None:
    if CHROMIUM is None:
        raise SystemExit("needs Debian chromium: apt-get install -y chromium")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app" / "main.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=os.environ,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        for name, (path, charts) in PAGES.items():
            screenshot(f"{url}/{path}", ROOT / "docs" / f"{name}.png", wait_charts=charts)
            print(f"docs/{name}.png")
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()

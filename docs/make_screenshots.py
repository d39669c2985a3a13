"""Screenshots of every app page into docs/ (for the README): `python docs/make_screenshots.py`.

Starts the app on the demo archive (PRECIP_DATA, default demo_data/) and drives Debian chromium with Playwright.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.server import serve
from tests.test_browser import CHROMIUM, screenshot

PAGES = {
    "main": ("", 5),
    "verification": ("Verification", 3),
    "case_library": ("Case_library", 0),
    "model_card": ("Model_card", 0),
}


def main() -> None:
    if CHROMIUM is None:
        raise SystemExit("needs Debian chromium: apt-get install -y chromium")
    with serve() as url:
        for name, (path, charts) in PAGES.items():
            screenshot(f"{url}/{path}", ROOT / "docs" / f"{name}.png", wait_charts=charts)
            print(f"docs/{name}.png")


if __name__ == "__main__":
    main()

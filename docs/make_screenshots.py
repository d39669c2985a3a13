"""Screenshots of every app page into docs/ (for the README): `python docs/make_screenshots.py`.

Starts the app on the demo archive (PRECIP_DATA, default demo_data/) and drives Debian chromium with Playwright.
Writes ``docs/screenshots.json`` beside them: the shipped weights they show and each picture's sha256, so a test
notices when the weights change and the pictures do not (``tests/test_docs.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.server import serve
from engine.data.atomic import atomic_write_bytes
from engine.model.manifest import DEFAULT_WEIGHTS, read_manifest
from tests.test_browser import CHROMIUM, screenshot

PAGES = {  # picture: (page and query, charts to wait for, heading to scroll to)
    "main": ("", 5, None),
    "heavy_rain": ("?run=2026070200&place=Gangneung", 10, "Heavy rain over the run"),
    "verification": ("verification", 3, None),
    "case_library": ("case_library", 0, None),
    "model_card": ("model_card", 0, None),
}
RECORD = ROOT / "docs" / "screenshots.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python docs/make_screenshots.py",
        description="Screenshots of the app's pages into docs/, from the app started on the demo archive "
        "(PRECIP_DATA, default demo_data/) in Debian chromium; records their sha256 and the weights shown in "
        "docs/screenshots.json.",
    )
    parser.add_argument("--only", nargs="+", choices=list(PAGES), metavar="PICTURE", help=f"of {', '.join(PAGES)}")
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("needs Debian chromium: apt-get install -y chromium")
    manifest = read_manifest(DEFAULT_WEIGHTS)
    pictures = json.loads(RECORD.read_text())["pictures"] if args.only and RECORD.exists() else {}
    with serve() as url:
        # A fresh server's very first session, if it opens a page other than the default, gets a spurious "Page
        # not found" box from Streamlit (streamlit/streamlit#8860, README): open the default page first.
        screenshot(url)
        for name, (path, charts, heading) in PAGES.items():
            if args.only and name not in args.only:
                continue
            png, _, _ = screenshot(f"{url}/{path}", ROOT / "docs" / f"{name}.png", charts, heading)
            pictures[f"{name}.png"] = hashlib.sha256(png).hexdigest()
            print(f"docs/{name}.png")
    record = {
        "taken_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "weights": manifest["file"],
        "weights_sha256": manifest["sha256"],
        "pictures": pictures,
    }
    atomic_write_bytes(RECORD, (json.dumps(record, indent=1) + "\n").encode())
    print(f"docs/{RECORD.name}")


if __name__ == "__main__":
    main()

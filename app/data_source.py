"""Where the app reads data: ``PRECIP_DATA`` if set, else the demo archive, generated on first start."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "demo_data"
DEMO_RUNS = 6


def data_dir() -> Path:
    return Path(os.environ.get("PRECIP_DATA", DEMO_DIR))


def demo_missing(folder: Path) -> bool:
    return folder == DEMO_DIR and not (folder / "archive.json").exists()

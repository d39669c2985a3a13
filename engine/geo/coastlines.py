"""Coastlines and borders around Korea from the shipped Natural Earth GeoJSON, for plotly and cartopy."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

LINES_FILE = Path(__file__).with_name("korea_ne10m_lines.geojson")


@lru_cache(maxsize=1)
def load_lines() -> tuple[tuple[str, np.ndarray], ...]:
    """Every line as ``(kind, array of (lon, lat))`` with kind ``coastline`` or ``border``."""
    data = json.loads(LINES_FILE.read_text())
    out: list[tuple[str, np.ndarray]] = []
    for feature in data["features"]:
        geom = feature["geometry"]
        parts = [geom["coordinates"]] if geom["type"] == "LineString" else geom["coordinates"]
        for part in parts:
            out.append((feature["properties"]["kind"], np.asarray(part, dtype=float)))
    return tuple(out)


def plotly_paths(kind: str | None = None) -> tuple[list[float | None], list[float | None]]:
    """All lines (optionally of one kind) joined into single lon/lat lists with ``None`` breaks, for one trace."""
    lons: list[float | None] = []
    lats: list[float | None] = []
    for line_kind, xy in load_lines():
        if kind is not None and line_kind != kind:
            continue
        lons.extend([*xy[:, 0].tolist(), None])
        lats.extend([*xy[:, 1].tolist(), None])
    return lons, lats


def shapely_lines(kind: str | None = None) -> list:
    """The lines as shapely LineStrings, ready for ``cartopy``'s ``ax.add_geometries``."""
    from shapely.geometry import LineString

    return [LineString(xy) for line_kind, xy in load_lines() if kind is None or line_kind == kind]

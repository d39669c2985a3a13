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


@lru_cache(maxsize=4)
def plotly_paths(kind: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All lines (optionally of one kind) joined into single lon/lat arrays with NaN breaks, for one trace.

    numpy arrays rather than lists: plotly validates and serialises them an order of magnitude faster.
    """
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    for line_kind, xy in load_lines():
        if kind is not None and line_kind != kind:
            continue
        lons += [xy[:, 0], np.array([np.nan])]
        lats += [xy[:, 1], np.array([np.nan])]
    return np.concatenate(lons), np.concatenate(lats)


def shapely_lines(kind: str | None = None) -> list:
    """The lines as shapely LineStrings, ready for ``cartopy``'s ``ax.add_geometries``."""
    from shapely.geometry import LineString

    return [LineString(xy) for line_kind, xy in load_lines() if kind is None or line_kind == kind]

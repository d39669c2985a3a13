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


# Lines are kept this far outside a map's area (degrees), so a small pan still shows coasts at the edge.
MARGIN_DEG = 0.5
# A map's lines are simplified to this share of its larger side: 0.01 degrees on the Korea grid, under half a pixel of
# a map 400 px wide (and a pixel at twice the zoom), for a third of the points.
TOLERANCE_SHARE = 1 / 800

Extent = tuple[float, float, float, float]  # lon_min, lon_max, lat_min, lat_max


@lru_cache(maxsize=16)
def plotly_paths(kind: str | None = None, extent: Extent | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All lines (optionally of one kind) joined into single lon/lat arrays with NaN breaks, for one trace.

    With ``extent``, only what lies within ``MARGIN_DEG`` of it, simplified (Douglas-Peucker) to ``TOLERANCE_SHARE``
    of its larger side: the shipped lines span 119-136 E, 29-44 N at 0.004 degrees, and every map of a page sent
    and drew all of them on every move of the lead time. numpy arrays rather than lists: plotly validates and
    serialises them an order of magnitude faster.
    """
    lines = [xy for line_kind, xy in load_lines() if kind is None or line_kind == kind]
    if extent is not None:
        lines = _clipped(lines, extent)
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    for xy in lines:
        lons += [xy[:, 0], np.array([np.nan])]
        lats += [xy[:, 1], np.array([np.nan])]
    if not lons:
        return np.array([]), np.array([])
    return np.concatenate(lons), np.concatenate(lats)


def _clipped(lines: list[np.ndarray], extent: Extent) -> list[np.ndarray]:
    from shapely.geometry import LineString, box

    lon_min, lon_max, lat_min, lat_max = extent
    area = box(lon_min - MARGIN_DEG, lat_min - MARGIN_DEG, lon_max + MARGIN_DEG, lat_max + MARGIN_DEG)
    tolerance = max(lon_max - lon_min, lat_max - lat_min) * TOLERANCE_SHARE
    out = []
    for xy in lines:
        inside = LineString(xy).intersection(area).simplify(tolerance, preserve_topology=False)
        for part in getattr(inside, "geoms", [inside]):
            if part.geom_type == "LineString" and not part.is_empty:
                out.append(np.asarray(part.coords))
    return out


def shapely_lines(kind: str | None = None) -> list:
    """The lines as shapely LineStrings, ready for ``cartopy``'s ``ax.add_geometries``."""
    from shapely.geometry import LineString

    return [LineString(xy) for line_kind, xy in load_lines() if kind is None or line_kind == kind]

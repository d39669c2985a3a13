"""A plausible terrain height for the Korean peninsula (m), for the demo's orographic rain.

Not a DEM: Gaussian ridges along the real ranges (Taebaek, Sobaek, Jirisan, Hallasan, the northern ranges) plus
low hills, cut by the real land mask. Good enough for the demo to put orographic lift on the windward slopes
where Korea has them.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from engine.grid import KOREA, Grid

KM_PER_DEG = 111.2

# (start lat, start lon, end lat, end lon, peak m, half-width km)
RIDGES: tuple[tuple[float, float, float, float, float, float], ...] = (
    (38.65, 128.15, 37.40, 128.85, 1300, 22),  # northern Taebaek (Seoraksan-Odaesan)
    (37.40, 128.85, 36.00, 129.20, 1100, 25),  # southern Taebaek
    (37.00, 128.30, 35.45, 127.65, 950, 22),  # Sobaek
    (35.34, 127.73, 35.30, 127.70, 1400, 14),  # Jirisan massif
    (33.36, 126.53, 33.37, 126.54, 1700, 11),  # Hallasan (Jeju)
    (39.75, 126.80, 38.90, 127.30, 1100, 30),  # Nangnim / Myohyang spurs (north)
    (38.90, 127.30, 38.60, 128.15, 900, 25),  # central ridge joining the Taebaek
    (36.40, 127.20, 35.80, 126.90, 400, 18),  # Charyeong hills (west)
)


def _segment_distance_km(
    lat: np.ndarray, lon: np.ndarray, a: tuple[float, float], b: tuple[float, float]
) -> np.ndarray:
    coslat = np.cos(np.radians(36.0))
    px, py = (lon - a[1]) * coslat * KM_PER_DEG, (lat - a[0]) * KM_PER_DEG
    bx, by = (b[1] - a[1]) * coslat * KM_PER_DEG, (b[0] - a[0]) * KM_PER_DEG
    t = np.clip((px * bx + py * by) / max(bx * bx + by * by, 1e-9), 0, 1)
    return np.hypot(px - t * bx, py - t * by)


def korea_terrain(grid: Grid = KOREA) -> np.ndarray:
    """Terrain height (m) on ``grid``: 0 over the sea, up to about 1.7 km."""
    lat, lon = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    height = np.zeros(grid.shape)
    for lat1, lon1, lat2, lon2, peak, width in RIDGES:
        d = _segment_distance_km(lat, lon, (lat1, lon1), (lat2, lon2))
        height = np.maximum(height, peak * np.exp(-((d / width) ** 2)))
    hills = gaussian_filter(np.random.default_rng(1729).standard_normal(grid.shape), 3.0)
    hills = 120 + 400 * np.clip(hills / hills.std(), -1, 3) / 3
    land = gaussian_filter(grid.land_mask.astype(float), 1.0)
    return np.clip((height + hills) * land, 0, None) * grid.land_mask

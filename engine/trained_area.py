"""Where a network learnt from observations: the pixels whose QPE was valid in some labelled training sample.

The losses skip pixels without valid QPE, so outside this area the network's probabilities were never corrected
by an observation: on the demo twin they show a grid texture over the far sea. A manifest carries the area
(``trained_area``), packed with the grid it lies on. A prediction marks it on its own grid, whatever that is (a
larger, tiled domain included: everything beyond the training grid is unlearnt), and the app greys out the rest.
"""

from __future__ import annotations

import base64

import numpy as np


def pack(area: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> dict:
    """``area`` (ny, nx) bool on the grid ``lat`` (ny,) x ``lon`` (nx,), as a manifest stores it (a few KB)."""
    area = np.asarray(area, dtype=bool)
    if area.shape != (lat.size, lon.size):
        raise ValueError(f"area of shape {area.shape} is not on a {lat.size} x {lon.size} grid")
    return {
        "lat": [float(lat[0]), float(lat[-1]), int(lat.size)],
        "lon": [float(lon[0]), float(lon[-1]), int(lon.size)],
        "bits": base64.b64encode(np.packbits(area).tobytes()).decode("ascii"),
    }


def unpack(packed: dict | None, lat: np.ndarray, lon: np.ndarray) -> np.ndarray | None:
    """The area on the grid ``lat`` (ny,) x ``lon`` (nx,), or None when no area is recorded.

    On the packed grid the bits come back as they were. On any other grid each pixel takes its nearest packed pixel
    when it lies within the packed grid (to half a cell beyond its edges); pixels beyond it were never learnt."""
    if not packed:
        return None
    (lat0, lat1, ny), (lon0, lon1, nx) = packed["lat"], packed["lon"]
    bits = np.frombuffer(base64.b64decode(packed["bits"]), dtype=np.uint8)
    area = np.unpackbits(bits, count=ny * nx).astype(bool).reshape(ny, nx)
    iy, y_in = _nearest(np.asarray(lat, dtype=float), lat0, lat1, ny)
    ix, x_in = _nearest(np.asarray(lon, dtype=float), lon0, lon1, nx)
    return area[np.ix_(iy, ix)] & y_in[:, None] & x_in[None, :]


def axis_position(coord: np.ndarray, first: float, last: float, n: int) -> np.ndarray:
    """Where each of ``coord`` lies among ``n`` evenly spaced points from ``first`` to ``last``, as a fractional
    index (0 at ``first``); with one point, in units of the coordinate. The packed grid is the training grid, so
    this also places an input on it (``engine.placement``)."""
    return (np.asarray(coord, dtype=float) - first) / ((last - first) / (n - 1) if n > 1 else 1.0)


def _nearest(coord: np.ndarray, first: float, last: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest of ``n`` evenly spaced points from ``first`` to ``last`` for each of ``coord``, and
    whether it lies within half a spacing of them."""
    if n == 1:
        return np.zeros(coord.size, dtype=int), np.isclose(coord, first, atol=1e-6)
    pos = axis_position(coord, first, last, n)
    inside = (pos >= -0.5 - 1e-6) & (pos <= n - 0.5 + 1e-6)
    return np.clip(np.rint(pos), 0, n - 1).astype(int), inside

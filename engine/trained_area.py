"""Where a network learnt from observations: the pixels whose QPE was valid in some labelled training sample.

The losses skip pixels without valid QPE, so outside this area the network's probabilities were never corrected
by an observation: on the demo twin they show a grid texture over the far sea. A manifest carries the area
(``trained_area``), packed with the grid it lies on; a prediction on that grid marks it, and the app greys out the
rest. On another grid the area is unknown and nothing is marked.
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
    """The area on the grid ``lat`` x ``lon``, or None when there is none or it lies on another grid."""
    if not packed:
        return None
    for coord, (first, last, n) in ((lat, packed["lat"]), (lon, packed["lon"])):
        if coord.size != n or not np.allclose([coord[0], coord[-1]], [first, last], atol=1e-6):
            return None
    bits = np.frombuffer(base64.b64decode(packed["bits"]), dtype=np.uint8)
    return np.unpackbits(bits, count=lat.size * lon.size).astype(bool).reshape(lat.size, lon.size)

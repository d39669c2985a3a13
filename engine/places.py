"""Places a forecaster asks about: KMA ASOS synoptic stations of Korea's cities, and the grid cell that holds one.

Positions are the stations' in KMA's public ASOS station list (KMA open data portal, data.kma.go.kr), transcribed
and cross-checked against two public copies of that list, rounded to 0.01 deg: at most 0.6 km off, an eighth of
the model grid's 5 km cell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.errors import DataError

KST = pd.Timedelta(hours=9)


@dataclass(frozen=True)
class Place:
    name: str
    station: int | None  # KMA ASOS station number; None for a point given by its coordinates
    lat: float  # deg N
    lon: float  # deg E

    @property
    def label(self) -> str:
        if self.station is None:
            return f"{self.lat:.2f}°N {self.lon:.2f}°E ({where_is(self)})"
        return f"{self.name} (ASOS {self.station}, {self.lat:.2f}°N {self.lon:.2f}°E)"


PLACES: tuple[Place, ...] = (
    Place("Seoul", 108, 37.57, 126.97),
    Place("Incheon", 112, 37.48, 126.62),
    Place("Suwon", 119, 37.26, 126.98),
    Place("Chuncheon", 101, 37.90, 127.74),
    Place("Gangneung", 105, 37.75, 128.89),
    Place("Cheongju", 131, 36.64, 127.44),
    Place("Daejeon", 133, 36.37, 127.37),
    Place("Seosan", 129, 36.78, 126.49),
    Place("Jeonju", 146, 35.84, 127.12),
    Place("Gwangju", 156, 35.17, 126.89),
    Place("Mokpo", 165, 34.82, 126.38),
    Place("Pohang", 138, 36.03, 129.38),
    Place("Daegu", 143, 35.88, 128.65),
    Place("Jinju", 192, 35.16, 128.04),
    Place("Busan", 159, 35.10, 129.03),
    Place("Jeju", 184, 33.51, 126.53),
)


def nearest_cell(lat: np.ndarray, lon: np.ndarray, place: Place) -> tuple[int, int] | None:
    """(row, column) of the cell of a regular grid (ascending 1-D ``lat`` and ``lon`` of cell centres) that holds
    ``place``; None when the place lies beyond the grid's outer cells."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    half_y = abs(lat[1] - lat[0]) / 2 if lat.size > 1 else 0.0
    half_x = abs(lon[1] - lon[0]) / 2 if lon.size > 1 else 0.0
    if not (lat.min() - half_y <= place.lat <= lat.max() + half_y):
        return None
    if not (lon.min() - half_x <= place.lon <= lon.max() + half_x):
        return None
    return int(np.abs(lat - place.lat).argmin()), int(np.abs(lon - place.lon).argmin())


BOX_HALF = 2  # cells either side of a place's own: a 25 km box of 5 km cells, about a county (si/gun) of Korea
BOX_KM = 5 * (2 * BOX_HALF + 1)


def box_around(cell: tuple[int, int], half: int = BOX_HALF) -> tuple[slice, slice]:
    """The (y, x) slices of the box of ``2 * half + 1`` cells a side centred on ``cell`` (cut at the grid's edge)."""
    iy, ix = cell
    return slice(max(iy - half, 0), iy + half + 1), slice(max(ix - half, 0), ix + half + 1)


def box_series(cell: tuple[int, int], fields: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each ``(lead, lat, lon)`` field's cells in the box around ``cell`` as ``(lead, cell)``, named
    "<name>, 25 km box": the area rows of :func:`engine.heavy_rain.place_sums`."""
    ys, xs = box_around(cell)
    return {f"{name}, {BOX_KM} km box": f[:, ys, xs].reshape(f.shape[0], -1) for name, f in fields.items()}


def places_on(lat: np.ndarray, lon: np.ndarray) -> dict[str, tuple[Place, tuple[int, int]]]:
    """The places a grid holds, by name, with their cells."""
    cells = {p.name: (p, nearest_cell(lat, lon, p)) for p in PLACES}
    return {name: (p, cell) for name, (p, cell) in cells.items() if cell is not None}


# "35.18, 129.07", "35.18 129.07", "35.18N 129.07E", "35.18°N,129.07°E": latitude first, as a forecaster writes it
_POINT = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?)\s*°?\s*N?\s*[,; ]\s*([-+]?\d+(?:\.\d*)?)\s*°?\s*E?\s*$", re.IGNORECASE)


def point(lat: float, lon: float) -> Place:
    """A place given by its coordinates (deg N, deg E), named as :func:`find_place` reads it back."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 360):
        raise DataError(f"no such point: latitude {lat:g} (must be -90 to 90), longitude {lon:g} (-180 to 360)")
    return Place(f"{lat:.2f}N {lon:.2f}E", None, round(lat, 2), round(lon, 2))


def find_place(name: str) -> Place:
    """The listed place of that name (any case), or a point written as "lat, lon" in degrees N and E (``35.18,
    129.07`` or ``35.18N 129.07E``); otherwise a DataError naming the places there are."""
    found = {p.name.lower(): p for p in PLACES}.get(name.strip().lower())
    if found is not None:
        return found
    coords = _POINT.match(name)
    if coords is not None:
        return point(float(coords[1]), float(coords[2]))
    raise DataError(
        f"unknown place {name!r}: a city ({', '.join(p.name for p in PLACES)}) or a point as 'lat, lon' in degrees "
        "N and E, e.g. '35.18, 129.07'"
    )


EARTH_RADIUS_KM = 6371.0
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def distance_bearing(a: Place, b: Place) -> tuple[float, float]:
    """Great-circle distance (km, haversine) and initial bearing (deg clockwise from north) from ``a`` to ``b``."""
    la1, lo1, la2, lo2 = map(np.radians, (a.lat, a.lon, b.lat, b.lon))
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))
    y = np.sin(lo2 - lo1) * np.cos(la2)
    x = np.cos(la1) * np.sin(la2) - np.sin(la1) * np.cos(la2) * np.cos(lo2 - lo1)
    return float(km), float(np.degrees(np.arctan2(y, x)) % 360)


def where_is(spot: Place, near: float = 2.5) -> str:
    """A point as a forecaster says it, from the nearest listed city: "12 km SW of Jeju", or "at Jeju" within
    ``near`` km (half a 5 km grid cell)."""
    km, bearing, city = min((*distance_bearing(c, spot), c.name) for c in PLACES)
    if km < near:
        return f"at {city}"
    return f"{km:.0f} km {_COMPASS[int((bearing + 22.5) // 45) % 8]} of {city}"


def hours_at(
    cell: tuple[int, int],
    init: pd.Timestamp,
    leads: Sequence[int],
    nwp: np.ndarray,
    qpe: np.ndarray,
    p_event: Mapping[float, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One grid cell's hours of a run: lead time, valid time in UTC and KST, raw NWP and observed rain (mm/h, the
    hour ending at the valid time; NaN where not observed) and the model's calibrated P(rain >= t) for each event
    threshold t of ``p_event``. ``nwp``, ``qpe`` and each ``p_event`` value are ``(lead, lat, lon)``."""
    iy, ix = cell
    valid = [pd.Timestamp(init) + pd.Timedelta(hours=int(lt)) for lt in leads]
    table = pd.DataFrame(
        {
            "lead time (h)": list(leads),
            "valid (UTC)": [f"{vt:%Y-%m-%d %H:00}" for vt in valid],
            "valid (KST)": [f"{vt + KST:%Y-%m-%d %H:00}" for vt in valid],
            "raw NWP (mm/h)": np.asarray(nwp)[:, iy, ix],
            "observed QPE (mm/h)": np.asarray(qpe)[:, iy, ix],
        }
    )
    for threshold, p in sorted((p_event or {}).items()):
        table[probability_column(threshold)] = np.asarray(p)[:, iy, ix]
    return table


def probability_column(threshold: float) -> str:
    return f"model P(>= {threshold:g} mm/h)"

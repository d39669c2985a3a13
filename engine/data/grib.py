"""NWP GRIB2 reading and writing through eccodes.

Reading walks the messages one by one (the robust answer to cfgrib's "heterogeneous hypercube" problem: level
types and steps may be mixed freely in one file), keeps those the source's lexicon names, and returns one
``xarray.Dataset`` with the 16 canonical channels on the model grid. Accumulated rain becomes hourly amounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import eccodes
import numpy as np
import pandas as pd
import xarray as xr

from engine.channels import CHANNEL_NAMES
from engine.data.atomic import atomic_path
from engine.data.fields import SourceGrid, assemble
from engine.data.lexicon import Lexicon
from engine.errors import DataError
from engine.grid import KOREA, Grid

GRIB_MAGIC = b"GRIB"


def _open_messages(path: Path) -> Iterable[int]:
    """Yield eccodes handles of every message in ``path``; the caller releases them."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head != GRIB_MAGIC:
            raise DataError("not a GRIB file (does not start with 'GRIB')", path)
        # A fresh handle: eccodes reads through the OS file position, which Python's buffered read moved.
        with open(path, "rb") as fh:
            index = 0
            while True:
                try:
                    handle = eccodes.codes_grib_new_from_file(fh)
                except eccodes.CodesInternalError as exc:
                    raise DataError(f"corrupt or truncated GRIB message #{index + 1}: {exc}", path) from exc
                if handle is None:
                    if index == 0:
                        raise DataError("no GRIB message could be decoded", path)
                    return
                index += 1
                yield handle
    except FileNotFoundError as exc:
        raise DataError("file not found", path) from exc
    except IsADirectoryError as exc:
        raise DataError("is a folder, not a GRIB file", path) from exc


POINT_GRIDS = ("lambert", "rotated_ll", "polar_stereographic", "mercator", "lambert_azimuthal_equal_area")


def _message_grid(handle: int, path: Path) -> tuple[np.ndarray, np.ndarray, bool | None]:
    """Ascending 1-D lat, lon of a regular_ll message and whether rows must be flipped to ascend; for projected
    grids (Lambert conformal, rotated lat/lon, ...) the lat and lon of every point, in message order, and None."""
    grid_type = eccodes.codes_get(handle, "gridType")
    if grid_type in POINT_GRIDS:
        return eccodes.codes_get_array(handle, "latitudes"), eccodes.codes_get_array(handle, "longitudes"), None
    if grid_type != "regular_ll":
        raise DataError(f"unsupported grid type {grid_type!r} (regular_ll or {', '.join(POINT_GRIDS)})", path)
    ni, nj = eccodes.codes_get(handle, "Ni"), eccodes.codes_get(handle, "Nj")
    lat1 = eccodes.codes_get(handle, "latitudeOfFirstGridPointInDegrees")
    lat2 = eccodes.codes_get(handle, "latitudeOfLastGridPointInDegrees")
    lon1 = eccodes.codes_get(handle, "longitudeOfFirstGridPointInDegrees")
    lon2 = eccodes.codes_get(handle, "longitudeOfLastGridPointInDegrees")
    if lon2 < lon1:
        lon2 += 360.0
    lat = np.linspace(lat1, lat2, nj)
    lon = np.linspace(lon1, lon2, ni)
    flip = lat1 > lat2
    return (lat[::-1] if flip else lat), lon, flip


def _timestamp(date: int, time: int) -> pd.Timestamp:
    return pd.Timestamp(f"{date:08d}") + pd.Timedelta(hours=time // 100, minutes=time % 100)


def _lead_hours(handle: int) -> int:
    if eccodes.codes_get(handle, "stepUnits") != 1:  # 1 = hours (WMO code table 4.4)
        eccodes.codes_set(handle, "stepUnits", "h")
    return int(eccodes.codes_get(handle, "endStep"))


class _NameCache:
    """eccodes' string keys (``shortName``, ``typeOfLevel``) cost ~0.4 ms each, a third of a message's decode.

    They are resolved once per distinct set of integer code-table keys, which are cheap to read.
    """

    INT_KEYS = (
        "editionNumber",
        "discipline",
        "parameterCategory",
        "parameterNumber",
        "typeOfFirstFixedSurface",
        "level",
        "productDefinitionTemplateNumber",
        "centre",
    )
    GRID_KEYS = (
        "gridDefinitionTemplateNumber",
        "Ni",
        "Nj",
        "latitudeOfFirstGridPoint",
        "longitudeOfFirstGridPoint",
        "latitudeOfLastGridPoint",
        "longitudeOfLastGridPoint",
    )

    def __init__(self) -> None:
        self._names: dict[tuple, tuple[str, str, int]] = {}

    def _ints(self, handle: int, keys: tuple[str, ...]) -> tuple:
        out = []
        for k in keys:
            try:
                out.append(eccodes.codes_get_long(handle, k))
            except eccodes.KeyValueNotFoundError:
                out.append(None)
        return tuple(out)

    def key(self, handle: int) -> tuple[str, str, int]:
        ints = self._ints(handle, self.INT_KEYS)
        if ints[0] != 2 or ints[1] is None:  # GRIB1 and odd templates: ask eccodes every time
            return _names(handle)
        if ints not in self._names:
            self._names[ints] = _names(handle)
        return self._names[ints]

    def grid_key(self, handle: int) -> tuple:
        return self._ints(handle, self.GRID_KEYS)


def _names(handle: int) -> tuple[str, str, int]:
    return (
        eccodes.codes_get(handle, "shortName"),
        eccodes.codes_get(handle, "typeOfLevel"),
        int(eccodes.codes_get(handle, "level")),
    )


def read_grib(
    paths: Sequence[str | Path], lexicon: Lexicon, grid: Grid = KOREA, channels: Sequence[str] = CHANNEL_NAMES
) -> xr.Dataset:
    """Read one run's NWP GRIB2 file(s) into a Dataset of ``channels`` (default: the 16) on ``grid``; the messages
    of other channels are skipped undecoded.

    Every lead time found must carry every channel asked for; all messages must share one analysis time.
    Coordinates: ``init_time`` (scalar), ``lead_time`` (hours, timedelta), ``valid_time``, ``lat``, ``lon``.
    """
    if not paths:
        raise DataError("no GRIB files given")
    wanted = set(channels)
    lookup = {key: ch for key, ch in lexicon.lookup().items() if ch in wanted}
    names = _NameCache()
    fields: dict[tuple[str, int], np.ndarray] = {}
    init_key: tuple[int, int] | None = None
    src_grid: tuple[np.ndarray, np.ndarray, bool] | None = None
    for path in map(Path, paths):
        for handle in _open_messages(path):
            try:
                channel = lookup.get(names.key(handle))
                if channel is None:
                    continue
                date_time = (eccodes.codes_get_long(handle, "dataDate"), eccodes.codes_get_long(handle, "dataTime"))
                if init_key is None:
                    init_key = date_time
                elif date_time != init_key:
                    raise DataError(
                        f"mixes runs: analysis time {_timestamp(*date_time)} after {_timestamp(*init_key)}", path
                    )
                grid_key = names.grid_key(handle)
                if src_grid is None:
                    src_grid = _message_grid(handle, path)
                    first_grid_key = grid_key
                elif grid_key != first_grid_key:
                    raise DataError(f"message for {channel} is on a different grid from the others", path)
                try:
                    values = eccodes.codes_get_values(handle)
                except eccodes.CodesInternalError as exc:
                    raise DataError(f"cannot decode {channel}: {exc}", path) from exc
                if src_grid[2] is not None:
                    values = values.reshape(src_grid[0].size, src_grid[1].size)
                    if src_grid[2]:
                        values = values[::-1]
                spec = lexicon.keys[channel]
                if spec.scale != 1.0 or spec.offset != 0.0:
                    values = values * spec.scale + spec.offset
                fields[(channel, _lead_hours(handle))] = values
            finally:
                eccodes.codes_release(handle)
    if not fields:
        raise DataError(f"none of the {lexicon.name} channels found", paths[0])
    assert init_key is not None and src_grid is not None
    init_time = _timestamp(*init_key)
    src_lat, src_lon = src_grid[0], src_grid[1]
    leads = sorted({lead for _, lead in fields})
    missing = [(ch, ld) for ld in leads for ch in CHANNEL_NAMES if ch in wanted and (ch, ld) not in fields]
    if missing:
        names = sorted({ch for ch, _ in missing})
        where = paths[0] if len(paths) == 1 else Path(paths[0]).parent
        raise DataError(f"missing channels {names} at lead time(s) {sorted({ld for _, ld in missing})} h", where)
    return assemble(
        {ch: np.stack([fields[(ch, ld)] for ld in leads]) for ch in CHANNEL_NAMES if ch in wanted},
        leads,
        init_time,
        SourceGrid(src_lat, src_lon, curvilinear=src_grid[2] is None),
        grid,
        lexicon.rain_accumulated_from_start,
        paths[0],
        lexicon.name,
    )


class GribWriter:
    """Writes the 16 channels of one lead time as GRIB2 messages on a regular lat/lon grid (north to south).

    A template message per channel is built once and cloned per write, which makes writing cheap.
    """

    def __init__(self, lexicon: Lexicon, grid: Grid = KOREA, bits_per_value: int = 16) -> None:
        self.lexicon, self.grid = lexicon, grid
        self._templates: dict[str, int] = {}
        for ch in CHANNEL_NAMES:
            spec = lexicon.keys[ch]
            h = eccodes.codes_grib_new_from_samples("GRIB2")
            for key, value in (
                ("centre", "ecmf"),
                ("Ni", grid.nx),
                ("Nj", grid.ny),
                ("latitudeOfFirstGridPointInDegrees", float(grid.lat[-1])),
                ("longitudeOfFirstGridPointInDegrees", float(grid.lon[0])),
                ("latitudeOfLastGridPointInDegrees", float(grid.lat[0])),
                ("longitudeOfLastGridPointInDegrees", float(grid.lon[-1])),
                ("iDirectionIncrementInDegrees", grid.step),
                ("jDirectionIncrementInDegrees", grid.step),
            ):
                eccodes.codes_set(h, key, value)
            if ch == "tp":
                eccodes.codes_set(h, "productDefinitionTemplateNumber", 8)
            eccodes.codes_set(h, "typeOfLevel", spec.type_of_level)
            if spec.type_of_level not in ("surface", "meanSea"):
                eccodes.codes_set(h, "level", spec.level)
            eccodes.codes_set(h, "shortName", spec.short_name)
            if ch == "tp":
                eccodes.codes_set(h, "stepType", "accum")
            eccodes.codes_set(h, "bitsPerValue", bits_per_value)
            self._templates[ch] = h

    def close(self) -> None:
        for h in self._templates.values():
            eccodes.codes_release(h)
        self._templates.clear()

    def __enter__(self) -> GribWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, path: str | Path, init_time: pd.Timestamp, lead_hours: int, fields: dict[str, np.ndarray]) -> None:
        """Write one file atomically. ``fields`` holds our units (``tp``: mm accumulated since the run start);
        values are converted back to the source's units through the lexicon."""
        init_time = pd.Timestamp(init_time)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            for ch in CHANNEL_NAMES:
                spec = self.lexicon.keys[ch]
                h = eccodes.codes_clone(self._templates[ch])
                try:
                    eccodes.codes_set(h, "dataDate", int(init_time.strftime("%Y%m%d")))
                    eccodes.codes_set(h, "dataTime", int(init_time.strftime("%H%M")))
                    if ch == "tp":
                        eccodes.codes_set(h, "startStep", 0)
                        eccodes.codes_set(h, "endStep", lead_hours)
                    else:
                        eccodes.codes_set(h, "step", lead_hours)
                    values = (np.asarray(fields[ch], dtype=np.float64) - spec.offset) / spec.scale
                    eccodes.codes_set_values(h, values[::-1].ravel())  # grid rows ascend; GRIB scans north first
                    eccodes.codes_write(h, fh)
                finally:
                    eccodes.codes_release(h)


def short_names(path: str | Path) -> set[str]:
    """The ``shortName`` of every message in one file (to tell which centre's table a file follows)."""
    names = set()
    for handle in _open_messages(Path(path)):
        try:
            names.add(eccodes.codes_get(handle, "shortName"))
        finally:
            eccodes.codes_release(handle)
    return names

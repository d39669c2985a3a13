"""GPM IMERG half-hourly precipitation as hourly QPE: a public, global alternative to KMA's radar/gauge QPE.

Files as NASA GES DISC distributes them (HDF5, or the NetCDF-4 subsets of the same product)::

    3B-HHR.MS.MRG.3IMERG.20250701-S003000-E005959.0030.V07B.HDF5

Group ``Grid`` holds ``precipitation`` (V07; ``precipitationCal`` in V06) in mm/hr as
``(time, lon, lat)`` (longitude first), with ``lat``/``lon`` cell centres on a 0.1 deg grid and ``-9999.9`` as
the fill value. The hour ending at ``T`` is ``0.5 h x (rate[T-60 min, T-30 min] + rate[T-30 min, T])``; an hour
with a half missing is missing (NaN), not half as wet. Regridded to the model grid by area mean (0.1 deg is
coarser than 0.05 deg, so this is bilinear in practice).

Reference: Huffman et al. (2023), *GPM IMERG Technical Documentation*, NASA GSFC; file-name convention from the
*IMERG Release Notes* (V07).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from engine.errors import DataError
from engine.grid import KOREA, Grid

FILE_RE = re.compile(r"3B-HHR[.-].*?\.(\d{8})-S(\d{6})-E(\d{6})\..*\.(HDF5|h5|nc4?|nc)$", re.IGNORECASE)
VARIABLES = ("precipitation", "precipitationCal")  # V07, V06
FILL = -9999.9


def file_name(start: pd.Timestamp, version: str = "V07B", ext: str = "HDF5") -> str:
    """The GES DISC name of the half-hour file starting at ``start`` (what :func:`half_hour_start` reads back)."""
    end = start + pd.Timedelta(minutes=29, seconds=59)
    minutes = start.hour * 60 + start.minute
    return f"3B-HHR.MS.MRG.3IMERG.{start:%Y%m%d}-S{start:%H%M%S}-E{end:%H%M%S}.{minutes:04d}.{version}.{ext}"


def half_hour_start(path: Path) -> pd.Timestamp | None:
    """Start of the half-hour a file covers, from its name; None if the name is not an IMERG half-hourly file."""
    m = FILE_RE.search(path.name)
    if m is None:
        return None
    d, t = m.group(1), m.group(2)
    try:  # from integers: pd.to_datetime's format parsing made indexing a season's 4,416 files take 0.3 s
        return pd.Timestamp(int(d[:4]), int(d[4:6]), int(d[6:8]), int(t[:2]), int(t[2:4]), int(t[4:6]))
    except ValueError as exc:
        raise DataError(f"an IMERG file name with an impossible start time ({exc})", path) from exc


_INDEXES: dict[Path, tuple[tuple[tuple[str, int, int], ...], dict[pd.Timestamp, Path]]] = {}


def index_folder(folder: Path) -> dict[pd.Timestamp, Path]:
    """Half-hour start -> file, for every IMERG file in ``folder`` (and below). Kept while no folder in the tree
    changes (adding, removing or renaming a file changes its folder's time): the app asks for every run on every
    look, and a season's folder holds thousands of files."""
    folder = Path(folder)
    state = tuple((d, os.stat(d).st_mtime_ns, len(names)) for d, _, names in os.walk(folder))
    kept = _INDEXES.get(folder)
    if kept is not None and kept[0] == state:
        return dict(kept[1])
    found = {}
    for p in sorted(folder.rglob("3B-HHR*")):
        start = half_hour_start(p)
        if start is not None:
            found[start] = p
    if len(_INDEXES) >= 8:
        _INDEXES.pop(next(iter(_INDEXES)))
    _INDEXES[folder] = (state, found)
    return dict(found)


def read_rate(path: str | Path) -> xr.DataArray:
    """One half-hourly file as ``rate(lat, lon)`` in mm/h (NaN where the fill value or no estimate)."""
    path = Path(path)
    try:
        ds = xr.open_dataset(path, group="Grid", engine="netcdf4", decode_times=False)
    except FileNotFoundError as exc:
        raise DataError("file not found", path) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"not a readable IMERG HDF5/NetCDF-4 file with a 'Grid' group ({exc})", path) from exc
    with ds:
        name = next((v for v in VARIABLES if v in ds), None)
        if name is None:
            found = sorted(map(str, ds.data_vars)) or "none"
            raise DataError(f"no IMERG precipitation variable {' or '.join(VARIABLES)} (found: {found})", path)
        da = ds[name]
        if not {"lat", "lon"} <= set(da.dims):
            raise DataError(f"'{name}' must have lat and lon dimensions, has {da.dims}", path)
        da = da.isel({d: 0 for d in da.dims if d not in ("lat", "lon")}).transpose("lat", "lon").load()
    values = da.values.astype(np.float32)
    values[np.isclose(values, FILL) | (values <= -9999)] = np.nan
    negative = np.isfinite(values) & (values < 0)
    if negative.any():
        raise DataError(f"{int(negative.sum())} negative rain rates (min {values[negative].min():g} mm/h)", path)
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": da["lat"].values, "lon": da["lon"].values})


def read_imerg(folder: str | Path, valid_times: Sequence[pd.Timestamp], grid: Grid = KOREA) -> xr.DataArray:
    """Hourly QPE from IMERG half-hours as ``qpe(time, lat, lon)`` in mm (hour ending at ``time``), like
    :func:`engine.data.qpe.read_qpe`: hours lacking a half-hour file are all-NaN and listed in ``missing_hours``."""
    folder = Path(folder)
    files = index_folder(folder) if folder.is_dir() else {}
    frames, missing = [], []
    for vt in map(pd.Timestamp, valid_times):
        halves = [vt - pd.Timedelta(minutes=60), vt - pd.Timedelta(minutes=30)]
        if not all(h in files for h in halves):
            missing.append(f"{vt:%Y%m%d%H}")
            frames.append(np.full(grid.shape, np.nan, dtype=np.float32))
            continue
        first, second = (read_rate(files[h]) for h in halves)
        if first.shape != second.shape or not np.array_equal(first["lat"], second["lat"]):
            raise DataError("half-hours of one hour are on different grids", files[halves[1]])
        hourly = 0.5 * (first + second)  # mm/h x 0.5 h, twice
        frames.append(grid.regrid(hourly, "area_mean", source=files[halves[1]]).values.astype(np.float32))
    return xr.DataArray(
        np.stack(frames) if frames else np.zeros((0, *grid.shape), np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": pd.DatetimeIndex(list(valid_times)), **grid.coords()},
        name="qpe",
        attrs={"units": "mm", "long_name": "GPM IMERG, hour ending at time", "missing_hours": " ".join(missing)},
    )

"""Observed hourly rain (radar/gauge QPE) as CF NetCDF: one file per valid hour, variable ``qpe`` in mm.

``qpe`` holds the rain in the hour ending at ``time``; NaN where the QPE is not valid (outside radar range).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from engine.data.atomic import atomic_path
from engine.errors import DataError
from engine.grid import KOREA, Grid


def qpe_filename(valid_time: pd.Timestamp) -> str:
    return f"qpe_{pd.Timestamp(valid_time):%Y%m%d%H}.nc"


def write_qpe(path: str | Path, valid_time: pd.Timestamp, values: np.ndarray, grid: Grid = KOREA) -> None:
    """Write one hour of QPE atomically (float32, zlib, NaN as the fill value)."""
    da = xr.DataArray(
        np.asarray(values, dtype=np.float32)[None],
        dims=("time", "lat", "lon"),
        coords={"time": [pd.Timestamp(valid_time)], **grid.coords()},
        name="qpe",
        attrs={
            "standard_name": "lwe_thickness_of_precipitation_amount",
            "long_name": "quantitative precipitation estimate, hour ending at time",
            "units": "mm",
            "cell_methods": "time: sum (interval: 1 hour)",
        },
    )
    ds = da.to_dataset()
    ds.attrs.update(Conventions="CF-1.8", title="Hourly radar/gauge QPE")
    encoding = {
        "qpe": {"zlib": True, "complevel": 4, "_FillValue": np.float32(np.nan)},
        "time": {"units": "hours since 2000-01-01"},
    }
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4")


def read_qpe_file(path: str | Path, grid: Grid = KOREA) -> xr.DataArray:
    """One QPE file as ``qpe(time, lat, lon)`` on ``grid`` (regridded by area mean if on another grid)."""
    da = _open_qpe(path)
    return grid.regrid(da, "area_mean", source=path).where(grid.qpe_mask)


def _open_qpe(path: str | Path, decode_times: bool = True) -> xr.DataArray:
    """A QPE file's ``qpe(time, lat, lon)`` as stored, checked (variable, dimensions, no negative rain)."""
    path = Path(path)
    try:
        # No pandas indexes: one hour's grid is read as values (building the indexes was ~40 % of a file's read)
        ds = xr.open_dataset(path, engine="netcdf4", create_default_indexes=False, decode_times=decode_times)
    except FileNotFoundError as exc:
        raise DataError("file not found", path) from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"not a readable NetCDF file ({exc.__class__.__name__})", path) from exc
    with ds:
        if "qpe" not in ds:
            raise DataError(f"no variable 'qpe' (found: {sorted(map(str, ds.data_vars)) or 'none'})", path)
        da = ds["qpe"]
        rename = {d: c for d, c in (("latitude", "lat"), ("longitude", "lon")) if d in da.dims}
        da = da.rename(rename)
        if "lat" not in da.dims or "lon" not in da.dims:
            raise DataError(f"'qpe' must have lat and lon dimensions, has {da.dims}", path)
        if "time" not in da.dims:
            raise DataError("'qpe' has no time dimension", path)
        da = da.load()
    values = da.values
    negative = np.isfinite(values) & (values < 0)
    if negative.any():
        raise DataError(
            f"{int(negative.sum())} negative rain values (min {values[negative].min():g} mm); "
            "mark missing data with NaN or a _FillValue",
            path,
        )
    return da


def _qpe_hour(path: Path, grid: Grid) -> np.ndarray:
    """The first hour of a QPE file on ``grid``, NaN beyond the QPE coverage: :func:`read_qpe_file`'s values,
    without its coordinates (``Grid.values_on``)."""
    da = _open_qpe(path, decode_times=False)  # the hour is known from the file's name
    hour = grid.values_on(da.transpose("time", "lat", "lon"), "area_mean", source=path)[0]
    return np.where(grid.qpe_mask, hour, np.nan).astype(np.float32)


def read_qpe(folder: str | Path, valid_times: Sequence[pd.Timestamp], grid: Grid = KOREA) -> xr.DataArray:
    """QPE for each valid time from ``folder`` as ``qpe(time, lat, lon)``; hours without a file are all-NaN
    (a time gap is missing data, not dry weather) and listed in the ``missing_hours`` attribute."""
    folder = Path(folder)
    frames, missing = [], []
    for vt in valid_times:
        path = folder / qpe_filename(vt)
        if path.exists():
            frames.append(_qpe_hour(path, grid))
        else:
            missing.append(f"{pd.Timestamp(vt):%Y%m%d%H}")
            frames.append(np.full(grid.shape, np.nan, dtype=np.float32))
    da = xr.DataArray(
        np.stack(frames).astype(np.float32) if frames else np.zeros((0, *grid.shape), np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": pd.DatetimeIndex(valid_times), **grid.coords()},
        name="qpe",
        attrs={"units": "mm", "long_name": "QPE, hour ending at time", "missing_hours": " ".join(missing)},
    )
    return da

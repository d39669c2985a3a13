"""Per-channel fields as a source decoded them -> the canonical NWP Dataset on the model grid.

Every NWP reader (GRIB2 through eccodes, KoMet NetCDF) ends here, so hourly rain, regridding and the CF metadata
are the same whatever the file format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from engine.channels import BY_NAME, CHANNEL_NAMES
from engine.grid import Grid


@dataclass(frozen=True)
class SourceGrid:
    """Where a source's values lie: ascending 1-D ``lat``/``lon`` of a regular grid (values ``(..., ny, nx)``),
    or, when ``curvilinear``, one ``lat``/``lon`` per point (values ``(..., n)``, e.g. a Lambert-conformal grid)."""

    lat: np.ndarray
    lon: np.ndarray
    curvilinear: bool = False


def hourly_rain(arr: np.ndarray, leads: np.ndarray, accumulated: bool) -> np.ndarray:
    """Amount per hour ending at each lead. From accumulations: consecutive differences divided by the gap
    (a mean hourly amount when leads are not hourly); lead 0, or a first lead without its predecessor, counts
    from the run's start. Packing noise can make differences slightly negative: clipped at 0."""
    if not accumulated:
        return np.clip(arr, 0, None)
    prev_lead = np.concatenate([[0], leads[:-1]])
    prev = np.concatenate([np.zeros_like(arr[:1]), arr[:-1]])
    gap = np.maximum(leads - prev_lead, 1).astype(np.float32)
    return np.clip((arr - prev) / gap.reshape(-1, *[1] * (arr.ndim - 1)), 0, None)


def assemble(
    fields: dict[str, np.ndarray],
    leads: list[int],
    init_time: pd.Timestamp,
    source: SourceGrid,
    grid: Grid,
    rain_accumulated_from_start: bool,
    where: str | Path,
    source_name: str,
) -> xr.Dataset:
    """``fields[channel]`` is ``(lead, ...)`` in our units (``tp`` in mm, as stored: accumulated or hourly).

    Returns the channels given (all 16 for the model, ``tp`` alone for a view of the rain) as
    ``(lead_time, lat, lon)`` on ``grid``: state variables bilinear, rain by area mean (so a heavy cell is not
    smeared by interpolation where the source is finer). ``where`` names the file in errors.
    """
    lead_td = pd.to_timedelta(leads, unit="h")
    curvilinear = source.curvilinear
    data_vars = {}
    names = [ch for ch in CHANNEL_NAMES if ch in fields]
    for ch in names:
        arr = np.asarray(fields[ch], dtype=np.float32)
        if ch == "tp":
            arr = hourly_rain(arr, np.asarray(leads), rain_accumulated_from_start)
        method = "area_mean" if ch == "tp" else "bilinear"
        if curvilinear:
            arr = grid.regrid_points(arr, source.lat, source.lon % 360, method, where)
        meta = BY_NAME[ch]
        attrs = {"standard_name": meta.standard_name, "units": meta.units, "long_name": meta.long_name}
        if ch == "tp":
            attrs.update(units="mm", long_name="NWP precipitation in the hour ending at valid_time")
        lat_c, lon_c = (grid.lat, grid.lon) if curvilinear else (source.lat, source.lon)
        data_vars[ch] = xr.DataArray(
            arr.astype(np.float32),
            dims=("lead_time", "lat", "lon"),
            coords={"lead_time": lead_td, "lat": lat_c, "lon": lon_c},
            attrs=attrs,
        )
    ds = xr.Dataset(data_vars)
    if not curvilinear and not grid.matches(source.lat, source.lon):
        ds = xr.Dataset(
            {ch: grid.regrid(ds[ch], "area_mean" if ch == "tp" else "bilinear", source=where) for ch in names}
        )
    ds = ds.assign_coords(init_time=init_time, valid_time=("lead_time", (init_time + lead_td).values), **grid.coords())
    ds["lead_time"].attrs.update(long_name="forecast lead time")
    ds.attrs.update(source_lexicon=source_name, Conventions="CF-1.8")
    return ds

"""A data folder: which runs it holds, their lead times, and one run loaded as one Dataset.

Layout (the demo archive writes it; point the app at any folder laid out the same way)::

    DIR/nwp/YYYYMMDDHH/nwp_YYYYMMDDHH_fLLL.grib2   one GRIB2 file per run and lead time (16 channels)
    DIR/nwp/YYYYMMDDHH/*.grib2                      or any GRIB2 files holding the run's lead times
    DIR/qpe/qpe_YYYYMMDDHH.nc                       one QPE file per valid hour
    DIR/qpe/3B-HHR.MS.MRG.3IMERG.*.HDF5             or GPM IMERG half-hourly files (``qpe="imerg"``)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from engine.channels import CHANNEL_NAMES
from engine.data.grib import read_grib
from engine.data.imerg import index_folder, read_imerg
from engine.data.lexicon import LEXICONS, Lexicon
from engine.data.qpe import qpe_filename, read_qpe
from engine.errors import DataError
from engine.grid import KOREA, Grid

RUN_RE = re.compile(r"^\d{10}$")
LEAD_RE = re.compile(r"_f(\d{3})\.grib2?$")


def run_time(run: str) -> pd.Timestamp:
    """``YYYYMMDDHH`` -> timestamp (UTC)."""
    if not RUN_RE.match(run):
        raise DataError(f"run {run!r} is not of the form YYYYMMDDHH")
    try:
        return pd.to_datetime(run, format="%Y%m%d%H")
    except ValueError as exc:
        raise DataError(f"run {run!r} is not a valid date") from exc


@dataclass
class Catalog:
    root: Path
    lexicon: Lexicon = field(default_factory=lambda: LEXICONS["demo"])
    grid: Grid = KOREA
    qpe: str = "qpe-netcdf"  # or "imerg"

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not self.root.exists():
            raise DataError("data folder does not exist", self.root)
        if not self.root.is_dir():
            raise DataError("is a file, expected a data folder", self.root)
        if not (self.root / "nwp").is_dir():
            raise DataError(
                "no 'nwp' folder inside: not a data folder (create one with `python -m engine demo`)", self.root
            )

    @property
    def verify_mask(self) -> np.ndarray:
        """Where forecasts are scored: the radar QPE's coverage; IMERG covers the whole domain (NaN marks gaps)."""
        return np.ones(self.grid.shape, bool) if self.qpe == "imerg" else self.grid.qpe_mask

    def runs(self) -> list[str]:
        found = sorted(p.name for p in (self.root / "nwp").iterdir() if p.is_dir() and RUN_RE.match(p.name))
        if not found:
            raise DataError("no runs (folders named YYYYMMDDHH) in", self.root / "nwp")
        return found

    def files(self, run: str) -> list[Path]:
        run_time(run)
        folder = self.root / "nwp" / run
        if not folder.is_dir():
            raise DataError(f"unknown run {run} (available: {', '.join(self.runs()[:5])}...)", self.root)
        files = sorted(p for p in folder.iterdir() if p.suffix in (".grib2", ".grb2", ".grib"))
        if not files:
            raise DataError("no GRIB2 files for this run", folder)
        return files

    def lead_times(self, run: str) -> list[int]:
        """Lead times (hours) from the file names; files not named ``_fLLL`` are opened to find out."""
        files = self.files(run)
        leads = [LEAD_RE.search(p.name) for p in files]
        if all(leads):
            return sorted(int(m.group(1)) for m in leads)  # type: ignore[union-attr]
        lead_time = self.load_run(run, channels=("tp",))["lead_time"]  # the rain's messages say it; no more is decoded
        return [int(h) for h in lead_time.values.astype("timedelta64[h]").astype(int)]

    def load_run(
        self, run: str, lead_times: list[int] | None = None, channels: Sequence[str] = CHANNEL_NAMES
    ) -> xr.Dataset:
        """The run's ``channels`` (default: the 16) as one Dataset (``init_time``, ``lead_time``, ``lat``, ``lon``).

        Selecting lead times keeps their predecessors' files when rain is accumulated, so hourly rain is right.
        """
        files = self.files(run)
        if lead_times is not None and all(LEAD_RE.search(p.name) for p in files):
            named = sorted(int(LEAD_RE.search(p.name).group(1)) for p in files)  # type: ignore[union-attr]
            if lacking := sorted(set(lead_times) - set(named)):
                raise DataError(
                    f"run {run} has no lead time(s) {lacking} h (it has {named[0]}-{named[-1]} h)", files[0].parent
                )
            wanted = set(lead_times)
            if self.lexicon.rain_accumulated_from_start:
                wanted |= {max(ld - 1, 0) for ld in lead_times}
            files = [p for p in files if int(LEAD_RE.search(p.name).group(1)) in wanted]  # type: ignore[union-attr]
        ds = read_grib(files, self.lexicon, self.grid, channels)
        if pd.Timestamp(ds["init_time"].values) != run_time(run):
            raise DataError(
                f"files hold run {pd.Timestamp(ds['init_time'].values):%Y%m%d%H}, not {run}", files[0].parent
            )
        if lead_times is not None:
            have = set(ds["lead_time"].values.astype("timedelta64[h]").astype(int).tolist())
            lacking = sorted(set(lead_times) - have)
            if lacking:
                raise DataError(f"run {run} has no lead time(s) {lacking} h", files[0].parent)
            ds = ds.sel(lead_time=pd.to_timedelta(lead_times, unit="h"))
        return ds

    def qpe_files(self, run: str, lead_times: list[int]) -> list[Path]:
        init = run_time(run)
        valid = [init + pd.Timedelta(hours=ld) for ld in lead_times]
        folder = self.root / "qpe"
        if self.qpe == "imerg":
            index = index_folder(folder) if folder.is_dir() else {}
            halves = (vt - pd.Timedelta(minutes=m) for vt in valid for m in (60, 30))
            return [index[h] for h in halves if h in index]
        return [p for p in (folder / qpe_filename(vt) for vt in valid) if p.exists()]

    def load_qpe(self, run: str, lead_times: list[int]) -> xr.DataArray:
        """QPE matching a run's valid times, as ``qpe(lead_time, lat, lon)`` (NaN where invalid or missing)."""
        init = run_time(run)
        valid = [init + pd.Timedelta(hours=ld) for ld in lead_times]
        reader = read_imerg if self.qpe == "imerg" else read_qpe
        qpe = reader(self.root / "qpe", valid, self.grid)
        return qpe.rename(time="lead_time").assign_coords(
            lead_time=pd.to_timedelta(lead_times, unit="h"), valid_time=("lead_time", valid)
        )

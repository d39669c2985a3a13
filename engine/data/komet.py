"""The KoMet benchmark layout (Kim et al. 2022, arXiv 2206.15241): GDAPS-KIM NetCDF in, AWS gauge grids as truth.

::

    ROOT/GDPS_KIM/YYYYMM/DD/HH/*dfp*ft{LLL}.nc        pressure-level fields of run YYYYMMDDHH at lead LLL h
    ROOT/GDPS_KIM/YYYYMM/DD/HH/*dfs*ft{LLL}.nc        single-level fields (rain accumulated from the start)
    ROOT/AWS_GDPS_KIM_GRID/**/AWS_HOUR_ALL_YYYYMMDDHHMM_*.npy
                                                      hourly gauge rain (mm, hour ending at the time) on the
                                                      GDAPS-KIM grid; negative = no gauge in that cell

Variables are mapped by ``engine.data.lexicon.KOMET``. The GDAPS-KIM grid's coordinates come from ``lat``/``lon``
(1-D or 2-D; also ``latitude``/``longitude``) in the dfs file, or from ``ROOT/GDPS_KIM/latlon.nc`` when the files
carry none. Fields are regridded to the model grid (bilinear; rain by area mean); gauge cells by nearest cell,
so a gauge's value stays a gauge's value and cells without a gauge stay NaN (they are not scored).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from engine.channels import CHANNEL_NAMES
from engine.data.catalog import run_time
from engine.data.fields import SourceGrid, assemble
from engine.data.lexicon import KOMET
from engine.errors import DataError
from engine.grid import KOREA, Grid

NWP_DIR = "GDPS_KIM"
AWS_DIR = "AWS_GDPS_KIM_GRID"
LEAD_RE = re.compile(r"ft(\d{3})\.nc$")
AWS_RE = re.compile(r"AWS_HOUR_ALL_(\d{10})(\d{2})_\d*\.npy$")
# KoMet's 22 pressure levels in file order (hPa), used when a dfp file has no level coordinate.
LEVELS = (1000, 975, 950, 925, 900, 875, 850, 800, 750, 700, 650, 600, 550, 500, 450, 400, 350, 300, 250, 200, 150, 100)
COORD_NAMES = (("lat", "lon"), ("latitude", "longitude"), ("XLAT", "XLONG"))


def _open(path: Path) -> netCDF4.Dataset:
    try:
        return netCDF4.Dataset(path)
    except FileNotFoundError as exc:
        raise DataError("file not found", path) from exc
    except OSError as exc:
        raise DataError(f"not a readable NetCDF file ({exc.strerror or exc})", path) from exc


def _array(var) -> np.ndarray:
    data = var[:]
    return np.ma.filled(np.ma.asarray(data, dtype=np.float64), np.nan)


def _level_values(nc: netCDF4.Dataset, var, path: Path) -> tuple[int, ...]:
    dim = var.dimensions[1]
    if dim in nc.variables and nc.variables[dim].ndim == 1:
        values = np.asarray(nc.variables[dim][:], dtype=float)
        values = values / 100 if values.max() > 2000 else values  # Pa -> hPa
        return tuple(round(float(v)) for v in values)
    if nc.dimensions[dim].size != len(LEVELS):
        raise DataError(f"{var.name} has {nc.dimensions[dim].size} levels and no level coordinate", path)
    return LEVELS


def _field(nc: netCDF4.Dataset, variable: str, level: int | None, path: Path) -> np.ndarray:
    if variable not in nc.variables:
        raise DataError(f"no variable '{variable}' (found: {', '.join(sorted(nc.variables)) or 'none'})", path)
    var = nc.variables[variable]
    if level is not None:
        levels = _level_values(nc, var, path)
        if level not in levels:
            raise DataError(f"{variable} has no {level} hPa level (has {levels[0]}-{levels[-1]} hPa)", path)
        values = _array(var[0, levels.index(level)] if var.ndim == 4 else var[levels.index(level)])
    else:
        values = _array(var)
        while values.ndim > 2:  # (time, [height,] y, x): KIM writes 2 m / 10 m fields with a height axis
            values = values[0]
    units = getattr(var, "units", "")
    if variable == "psl" and units.lower() in ("hpa", "mb", "mbar"):
        values = values * 100.0
    return values


@dataclass
class KometCatalog:
    root: Path
    grid: Grid = KOREA
    _coords: SourceGrid | None = field(default=None, repr=False)
    _aws: dict[pd.Timestamp, Path] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not (self.root / NWP_DIR).is_dir():
            raise DataError(f"no '{NWP_DIR}' folder inside: not a KoMet data folder", self.root)

    @property
    def verify_mask(self) -> np.ndarray:
        return np.ones(self.grid.shape, bool)  # gauges are where they are: cells without one are NaN

    def runs(self) -> list[str]:
        found = sorted(
            f"{p.parent.parent.name}{p.parent.name}{p.name}"
            for p in (self.root / NWP_DIR).glob("[0-9]" * 6 + "/" + "[0-9]" * 2 + "/" + "[0-9]" * 2)
            if p.is_dir()
        )
        if not found:
            raise DataError("no runs (folders YYYYMM/DD/HH)", self.root / NWP_DIR)
        return found

    def _folder(self, run: str) -> Path:
        run_time(run)
        folder = self.root / NWP_DIR / run[:6] / run[6:8] / run[8:10]
        if not folder.is_dir():
            raise DataError(f"unknown run {run} (available: {', '.join(self.runs()[:5])}...)", self.root / NWP_DIR)
        return folder

    def files(self, run: str) -> list[Path]:
        files = sorted(p for p in self._folder(run).iterdir() if LEAD_RE.search(p.name))
        if not files:
            raise DataError("no GDAPS-KIM files (*ftLLL.nc) for this run", self._folder(run))
        return files

    def _pairs(self, run: str) -> dict[int, dict[str, Path]]:
        pairs: dict[int, dict[str, Path]] = {}
        for p in self.files(run):
            kind = "dfp" if "dfp" in p.name else "dfs" if "dfs" in p.name else None
            if kind is not None:
                pairs.setdefault(int(LEAD_RE.search(p.name).group(1)), {})[kind] = p  # type: ignore[union-attr]
        for lead, pair in pairs.items():
            if len(pair) != 2:
                have = next(iter(pair))
                lacking = "dfp" if have == "dfs" else "dfs"
                raise DataError(f"lead {lead} h has a {have} file but no {lacking} file", self._folder(run))
        return dict(sorted(pairs.items()))

    def lead_times(self, run: str) -> list[int]:
        return list(self._pairs(run))

    def source_grid(self, dfs: Path) -> SourceGrid:
        """The GDAPS-KIM grid's coordinates (read once per catalog)."""
        if self._coords is None:
            self._coords = self._read_coords(dfs)
        return self._coords

    def _read_coords(self, dfs: Path) -> SourceGrid:
        for path in (dfs, self.root / NWP_DIR / "latlon.nc"):
            if not path.exists():
                continue
            with _open(path) as nc:
                for la, lo in COORD_NAMES:
                    if la in nc.variables and lo in nc.variables:
                        lat, lon = _array(nc.variables[la]), _array(nc.variables[lo])
                        while lat.ndim > 2:
                            lat, lon = lat[0], lon[0]
                        if lat.ndim == 1:
                            return SourceGrid(lat, lon)
                        return SourceGrid(lat.ravel(), lon.ravel(), curvilinear=True)
        raise DataError(
            f"no lat/lon coordinates in the dfs file nor in {self.root / NWP_DIR / 'latlon.nc'}: "
            "add the GDAPS-KIM grid's lat/lon there",
            dfs,
        )

    def load_run(
        self, run: str, lead_times: list[int] | None = None, channels: Sequence[str] = CHANNEL_NAMES
    ) -> xr.Dataset:
        pairs = self._pairs(run)
        if lead_times is not None:
            lacking = sorted(set(lead_times) - set(pairs))
            if lacking:
                raise DataError(f"run {run} has no lead time(s) {lacking} h", self._folder(run))
            # Rain is accumulated: each lead needs its predecessor (when the run has it) for the hourly amount.
            wanted = set(lead_times) | {ld - 1 for ld in lead_times if ld - 1 in pairs}
            pairs = {ld: p for ld, p in pairs.items() if ld in wanted}
        leads = list(pairs)
        fields: dict[str, list[np.ndarray]] = {ch: [] for ch in KOMET if ch in channels}
        kinds = [kind for kind in ("dfp", "dfs") if any(KOMET[ch].file == kind for ch in fields)]
        for lead in leads:
            for kind in kinds:
                path = pairs[lead][kind]
                with _open(path) as nc:
                    for ch, key in KOMET.items():
                        if key.file == kind and ch in fields:
                            fields[ch].append(sum(_field(nc, v, key.level, path) for v in key.variables))
        source = self.source_grid(pairs[leads[0]]["dfs"])
        shape = (source.lat.size,) if source.curvilinear else (source.lat.size, source.lon.size)
        stacked = {}
        for ch, frames in fields.items():
            for lead, frame in zip(leads, frames, strict=True):
                if frame.size != int(np.prod(shape)):
                    raise DataError(
                        f"{KOMET[ch].variables[0]} has shape {frame.shape}, the grid has {shape}", pairs[lead]["dfs"]
                    )
            stacked[ch] = np.stack([f.reshape(shape) for f in frames])
        ds = assemble(stacked, leads, run_time(run), source, self.grid, True, self._folder(run), "komet")
        if lead_times is not None:
            ds = ds.sel(lead_time=pd.to_timedelta(lead_times, unit="h"))
        return ds

    def _aws_files(self) -> dict[pd.Timestamp, Path]:
        """Valid time -> gauge file, listed once per catalog (a season holds thousands of files)."""
        if self._aws is not None:
            return self._aws
        found = {}
        for p in (self.root / AWS_DIR).rglob("AWS_HOUR_ALL_*.npy"):
            m = AWS_RE.search(p.name)
            if m:
                found[pd.to_datetime(m.group(1), format="%Y%m%d%H")] = p
        self._aws = found
        return found

    def qpe_files(self, run: str, lead_times: list[int]) -> list[Path]:
        init = run_time(run)
        aws = self._aws_files()
        return [p for p in (aws.get(init + pd.Timedelta(hours=ld)) for ld in lead_times) if p is not None]

    def load_qpe(self, run: str, lead_times: list[int]) -> xr.DataArray:
        init = run_time(run)
        valid = [init + pd.Timedelta(hours=ld) for ld in lead_times]
        aws = self._aws_files()
        source = self.source_grid(next(iter(self._pairs(run).values()))["dfs"])
        frames, missing = [], []
        for vt in valid:
            path = aws.get(vt)
            if path is None:
                missing.append(f"{vt:%Y%m%d%H}")
                frames.append(np.full(self.grid.shape, np.nan, np.float32))
                continue
            frames.append(self._read_aws(path, source))
        return xr.DataArray(
            np.stack(frames),
            dims=("lead_time", "lat", "lon"),
            coords={"lead_time": pd.to_timedelta(lead_times, unit="h"), "valid_time": ("lead_time", valid)}
            | self.grid.coords(),
            name="qpe",
            attrs={
                "units": "mm",
                "long_name": "AWS gauges, hour ending at valid_time",
                "missing_hours": " ".join(missing),
            },
        )

    def _read_aws(self, path: Path, source: SourceGrid) -> np.ndarray:
        try:
            values = np.load(path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise DataError(f"not a readable .npy array ({exc})", path) from exc
        size = source.lat.size if source.curvilinear else source.lat.size * source.lon.size
        if values.size != size or values.ndim != 2:
            raise DataError(f"AWS grid has shape {values.shape}, the GDAPS-KIM grid has {size} cells", path)
        values[~np.isfinite(values) | (values < 0)] = np.nan  # KoMet: negative (-9999) = no gauge in the cell
        if source.curvilinear:
            return self.grid.regrid_points(values.ravel(), source.lat, source.lon % 360, "nearest", path)
        da = xr.DataArray(values, dims=("lat", "lon"), coords={"lat": source.lat, "lon": source.lon})
        return self.grid.regrid(da, "nearest", source=path).values.astype(np.float32)

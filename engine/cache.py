"""Post-processed runs computed once and reused: keyed by run, the run's input files, the grid they are regridded
onto and the weights' sha256.

The cache is a folder of NetCDF files (``PRECIP_CACHE``, default ``~/.cache/korea-rain``), written atomically, so
the app, ``verify --source model`` and several app sessions share one computation.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import xarray as xr

from engine.channels import CHANNEL_NAMES
from engine.data.atomic import atomic_path
from engine.data.base import RunSource
from engine.prediction import Forecaster, with_manifest_fields


def cache_dir() -> Path:
    return Path(os.environ.get("PRECIP_CACHE", Path.home() / ".cache" / "korea-rain"))


def files_fingerprint(paths: Iterable[Path], salt: str = "") -> str:
    """sha256 over files' names, sizes and modification times: changes when one is added, removed or rewritten."""
    h = hashlib.sha256(salt.encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def run_fingerprint(catalog: RunSource, run: str) -> str:
    """sha256 over the run's input files (name, size, modification time)."""
    return files_fingerprint(catalog.files(run), run)


def cache_key(catalog: RunSource, run: str, weights_sha256: str) -> str:
    g = catalog.grid  # the same files on a sub-domain (``Catalog(grid=...)``) are another prediction
    grid = f"{g.lat0}:{g.lon0}:{g.step}:{g.ny}:{g.nx}"
    return hashlib.sha256(f"{run_fingerprint(catalog, run)}:{grid}:{weights_sha256}".encode()).hexdigest()[:24]


def predicted_run(
    catalog: RunSource, run: str, predictor: Forecaster, folder: Path | None = None, nwp: xr.Dataset | None = None
) -> xr.Dataset:
    """The post-processed run from the cache, or computed, written to the cache and returned. ``nwp``: the whole
    run as ``catalog.load_run(run)`` gives it, where the caller has read it already (reading it is ~2 s)."""
    folder = folder or cache_dir()
    cached = cached_prediction(catalog, run, predictor, folder)
    if cached is not None:
        return cached
    if nwp is None:
        nwp = catalog.load_run(run)
    elif nwp.sizes["lead_time"] != (whole := len(catalog.lead_times(run))):  # the cache file is the whole run
        raise ValueError(f"nwp holds {nwp.sizes['lead_time']} of run {run}'s {whole} lead times")
    ds = predictor.predict(nwp)
    write_prediction(ds, _cache_path(catalog, run, predictor, folder))
    return ds


def _cache_path(catalog: RunSource, run: str, predictor: Forecaster, folder: Path) -> Path:
    return folder / f"pred_{run}_{cache_key(catalog, run, predictor.sha256)}.nc"


def cached_prediction(
    catalog: RunSource, run: str, predictor: Forecaster, folder: Path | None = None
) -> xr.Dataset | None:
    """The post-processed run if the cache holds it for the run's present files and these weights, else None (a
    caller that finds it needs the run's rain only, not the 16 channels the network reads)."""
    path = _cache_path(catalog, run, predictor, folder or cache_dir())
    if not path.exists():
        return None
    with xr.open_dataset(path) as ds:
        # what the manifest adds is computed again (its calibration may be newer), so it is not even decompressed
        stored = ds.drop_vars(["event_probability", "trained_area"], errors="ignore")
        return with_manifest_fields(stored.load(), predictor.manifest)


def write_prediction(ds: xr.Dataset, path: str | Path) -> None:
    compressed = ("probability", "rain_class", "event_probability", "nwp_rain")
    encoding = {name: {"zlib": True, "complevel": 1} for name in compressed if name in ds}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4")


def rain_and_prediction(
    catalog: RunSource, run: str, predictor: Forecaster | None, folder: Path | None = None
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The run's hourly NWP rain (``tp``, every lead time) and, given a predictor, its post-processed forecast,
    reading no more than needed: a cached prediction carries the rain it corrected (no GRIB read); else the rain
    alone is read when there is no model, and all 16 channels only for a prediction to make (~2 s a run)."""
    cached = cached_prediction(catalog, run, predictor, folder) if predictor is not None else None
    if cached is not None and "nwp_rain" in cached:
        return cached[["nwp_rain"]].rename(nwp_rain="tp"), cached
    nwp = catalog.load_run(run, channels=CHANNEL_NAMES if predictor is not None and cached is None else ("tp",))
    if predictor is None:
        return nwp, None
    return nwp, cached if cached is not None else predicted_run(catalog, run, predictor, folder, nwp=nwp)

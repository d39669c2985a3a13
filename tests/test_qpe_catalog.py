from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from engine.data.catalog import Catalog
from engine.data.qpe import qpe_filename, read_qpe, read_qpe_file, write_qpe
from engine.errors import DataError
from engine.grid import KOREA, Grid

VT = pd.Timestamp("2026-07-01 05:00")


def test_qpe_round_trip_masks_outside_radar_range(tmp_path: Path):
    values = np.random.default_rng(0).gamma(0.3, 3.0, KOREA.shape).astype(np.float32)
    write_qpe(tmp_path / "q.nc", VT, values)
    da = read_qpe_file(tmp_path / "q.nc")
    assert da.dims == ("time", "lat", "lon") and pd.Timestamp(da["time"].values[0]) == VT
    got = da.values[0]
    np.testing.assert_allclose(got[KOREA.qpe_mask], values[KOREA.qpe_mask])
    assert np.isnan(got[~KOREA.qpe_mask]).all()
    with xr.open_dataset(tmp_path / "q.nc") as ds:
        assert ds["qpe"].attrs["units"] == "mm" and ds.attrs["Conventions"].startswith("CF")


def test_qpe_without_the_variable_is_refused(tmp_path: Path):
    xr.Dataset({"rain": (("lat", "lon"), np.zeros(KOREA.shape))}, coords=KOREA.coords()).to_netcdf(tmp_path / "x.nc")
    with pytest.raises(DataError, match="no variable 'qpe'.*rain"):
        read_qpe_file(tmp_path / "x.nc")


def test_negative_qpe_is_refused_with_a_count(tmp_path: Path):
    values = np.zeros(KOREA.shape, np.float32)
    values[:3, :3] = -999.0
    write_qpe(tmp_path / "neg.nc", VT, values)
    with pytest.raises(DataError, match="9 negative rain values"):
        read_qpe_file(tmp_path / "neg.nc")


def test_garbage_netcdf_is_refused(tmp_path: Path):
    (tmp_path / "g.nc").write_bytes(b"\x89HDF junk" * 50)
    with pytest.raises(DataError, match="not a readable NetCDF"):
        read_qpe_file(tmp_path / "g.nc")


def test_missing_hours_are_nan_and_listed(tmp_path: Path):
    write_qpe(tmp_path / "qpe_2026070105.nc", VT, np.ones(KOREA.shape))
    da = read_qpe(tmp_path, [VT, VT + pd.Timedelta(hours=1)])
    assert np.nanmax(da.values[0]) == 1.0 and np.isnan(da.values[1]).all()
    assert da.attrs["missing_hours"] == "2026070106"


def test_a_folder_of_qpe_stored_north_to_south_or_on_a_finer_grid_reads_as_each_file_does(tmp_path: Path):
    """A folder's hours are read without coordinates where a file is on the grid; the others are regridded, the
    same as one file read alone."""
    rng = np.random.default_rng(1)
    values = rng.gamma(0.3, 3.0, KOREA.shape).astype(np.float32)
    fine = Grid(lat0=KOREA.lat0 - 0.0125, lon0=KOREA.lon0 - 0.0125, step=0.025, ny=2 * KOREA.ny, nx=2 * KOREA.nx)
    hours = [VT + pd.Timedelta(hours=h) for h in range(3)]
    write_qpe(tmp_path / qpe_filename(hours[0]), hours[0], values)
    write_qpe(tmp_path / qpe_filename(hours[2]), hours[2], np.repeat(np.repeat(values, 2, 0), 2, 1), grid=fine)
    with xr.open_dataset(tmp_path / qpe_filename(hours[0])) as ds:  # the same hour stored north to south
        flipped = ds.isel(lat=slice(None, None, -1)).load()
    flipped.to_netcdf(tmp_path / qpe_filename(hours[1]))
    folder = read_qpe(tmp_path, hours).values
    for k, hour in enumerate(hours):
        alone = read_qpe_file(tmp_path / qpe_filename(hour)).values[0]
        np.testing.assert_array_equal(folder[k], alone)
        np.testing.assert_allclose(folder[k][KOREA.qpe_mask], values[KOREA.qpe_mask], rtol=1e-6)
    assert np.isnan(folder[:, ~KOREA.qpe_mask]).all()


def test_catalog_lists_and_loads_runs(demo_archive: Path):
    cat = Catalog(demo_archive)
    assert cat.runs() == ["2026070100", "2026070200"]
    assert cat.lead_times("2026070200") == list(range(49))
    ds = cat.load_run("2026070200", lead_times=[25, 26])
    assert list(ds.data_vars) == list(ds.data_vars)[:16] and len(ds.data_vars) == 16
    assert {"init_time", "lead_time", "valid_time", "lat", "lon"} <= set(ds.coords)
    assert pd.Timestamp(ds["valid_time"].values[0]) == pd.Timestamp("2026-07-03 01:00")
    full = cat.load_run("2026070200")
    np.testing.assert_allclose(ds["tp"].values, full["tp"].sel(lead_time=ds["lead_time"]).values)
    qpe = cat.load_qpe("2026070200", [25, 26])
    assert qpe.shape == (2, *KOREA.shape) and np.isfinite(qpe.values).sum() == 2 * KOREA.qpe_mask.sum()
    assert [p.name for p in cat.qpe_files("2026070200", [25, 26, 999])] == ["qpe_2026070301.nc", "qpe_2026070302.nc"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: p, "no 'nwp' folder"),
        (lambda p: (p / "nwp").mkdir() or p, "no runs"),
    ],
)
def test_catalog_bad_folders(tmp_path: Path, setup, message: str):
    with pytest.raises(DataError, match=message):
        Catalog(setup(tmp_path)).runs()


def test_unknown_run_is_named(demo_archive: Path):
    with pytest.raises(DataError, match="unknown run 2026080100"):
        Catalog(demo_archive).load_run("2026080100")
    with pytest.raises(DataError, match="not of the form"):
        Catalog(demo_archive).load_run("../../etc")

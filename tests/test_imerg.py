"""GPM IMERG half-hourly files as hourly QPE."""

from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest

from engine.data.catalog import Catalog
from engine.data.imerg import file_name, read_imerg
from engine.data.sources import detect, open_data
from engine.errors import DataError
from engine.grid import KOREA

# A 0.1 deg subset around Korea, as GES DISC subsets the global 3600 x 1800 grid.
LAT = np.round(np.arange(30.05, 41.0, 0.1), 2)
LON = np.round(np.arange(122.05, 133.0, 0.1), 2)


def write_imerg(folder: Path, start: pd.Timestamp, rate: np.ndarray, variable: str = "precipitation") -> Path:
    """One half-hour file in IMERG's layout: group Grid, (time, lon, lat), mm/hr, fill -9999.9."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(start, "V07B" if variable == "precipitation" else "V06B")
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        grid = nc.createGroup("Grid")
        grid.createDimension("time", 1)
        grid.createDimension("lon", LON.size)
        grid.createDimension("lat", LAT.size)
        grid.createVariable("lon", "f4", ("lon",))[:] = LON
        grid.createVariable("lat", "f4", ("lat",))[:] = LAT
        t = grid.createVariable("time", "i4", ("time",))
        t.units = "seconds since 1970-01-01 00:00:00 UTC"
        t[:] = int(start.timestamp())
        var = grid.createVariable(variable, "f4", ("time", "lon", "lat"), fill_value=np.float32(-9999.9), zlib=True)
        var.units = "mm/hr"
        var[0] = rate.T  # IMERG stores longitude first
    return path


def _uniform(value: float) -> np.ndarray:
    return np.full((LAT.size, LON.size), value, dtype=np.float32)


def test_two_half_hours_make_one_hour_and_gaps_stay_missing(tmp_path: Path):
    hour = pd.Timestamp("2026-07-01 03:00")
    first = _uniform(4.0)
    first[LAT < 32.5] = np.float32(-9999.9)  # no estimate in the southern rows (fill value)
    write_imerg(tmp_path, hour - pd.Timedelta(minutes=60), first)
    write_imerg(tmp_path, hour - pd.Timedelta(minutes=30), _uniform(8.0), variable="precipitationCal")  # V06 name
    write_imerg(tmp_path, hour, _uniform(1.0))  # the next hour lacks its second half
    qpe = read_imerg(tmp_path, [hour, hour + pd.Timedelta(hours=1)])
    assert qpe.shape == (2, *KOREA.shape)
    np.testing.assert_allclose(qpe.values[0, KOREA.lat > 32.6], 6.0, atol=1e-5)  # 0.5 h x 4 mm/h + 0.5 h x 8 mm/h
    assert np.isnan(qpe.values[0, KOREA.lat < 32.4]).all(), "a fill value is missing data, not dry"
    assert np.isnan(qpe.values[1]).all() and qpe.attrs["missing_hours"] == "2026070104"


def test_an_unreadable_or_foreign_file_is_named(tmp_path: Path):
    start = pd.Timestamp("2026-07-01 02:00")
    bad = tmp_path / file_name(start)
    bad.write_bytes(b"not hdf5 at all")
    write_imerg(tmp_path, start + pd.Timedelta(minutes=30), _uniform(1.0))
    with pytest.raises(DataError, match="not a readable IMERG") as exc:
        read_imerg(tmp_path, [pd.Timestamp("2026-07-01 03:00")])
    assert exc.value.path == bad
    negative = _uniform(1.0)
    negative[3, 3] = -2.0
    write_imerg(tmp_path, start, negative)
    with pytest.raises(DataError, match="1 negative rain rates"):
        read_imerg(tmp_path, [pd.Timestamp("2026-07-01 03:00")])


def test_a_folder_is_indexed_by_half_hour_through_its_subfolders_and_a_bad_name_is_named(tmp_path: Path):
    from engine.data.imerg import index_folder

    starts = pd.date_range("2026-07-31 23:00", periods=4, freq="30min")
    for start in starts:  # GES DISC's layout: a folder per year and day of year
        (tmp_path / f"{start:%Y}" / f"{start:%j}").mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{start:%Y}" / f"{start:%j}" / file_name(start)).touch()
    (tmp_path / "README.txt").touch()
    index = index_folder(tmp_path)
    assert list(index) == list(starts) and index[starts[2]].name == file_name(starts[2])
    # a half-hour that arrives later, in a new day's folder, is found on the next look (the index is kept between)
    late = starts[-1] + pd.Timedelta(minutes=30)
    (tmp_path / f"{late:%Y}" / f"{late:%j}").mkdir(exist_ok=True)
    (tmp_path / f"{late:%Y}" / f"{late:%j}" / file_name(late)).touch()
    assert list(index_folder(tmp_path)) == [*starts, late]
    (tmp_path / f"{late:%Y}" / f"{late:%j}" / file_name(late)).unlink()
    assert list(index_folder(tmp_path)) == list(starts), "and one removed is gone"
    bad = tmp_path / file_name(starts[0]).replace("20260731-S230000", "20260732-S230000")
    bad.touch()
    with pytest.raises(DataError, match="impossible start time") as exc:
        index_folder(tmp_path)
    assert exc.value.path == bad


def test_a_grib_folder_with_imerg_observations_is_detected_and_scored(tmp_path: Path, demo_archive: Path, engine_cli):
    root = tmp_path / "ecmwf_imerg"
    root.mkdir()
    (root / "nwp").symlink_to(demo_archive / "nwp")
    run = sorted(p.name for p in (demo_archive / "nwp").iterdir())[0]
    init = pd.to_datetime(run, format="%Y%m%d%H")
    for minutes in range(0, 120, 30):  # leads 1 and 2
        write_imerg(root / "qpe", init + pd.Timedelta(minutes=minutes), _uniform(0.5 if minutes < 60 else 0.0))
    assert detect(root) == ("ecmwf", "imerg")
    cat = open_data(root)
    assert isinstance(cat, Catalog) and cat.qpe == "imerg" and cat.verify_mask.all()
    np.testing.assert_allclose(cat.load_qpe(run, [1, 2]).values[:, 80, 80], [0.5, 0.0], atol=1e-6)
    assert len(cat.qpe_files(run, [1, 2, 3])) == 4, "both half-hours of leads 1 and 2, none of lead 3"
    res = engine_cli("verify", "--data", str(root), "--runs", run, "--lead-times", "1", "2", "--json")
    assert res.returncode == 0, res.stderr
    res = engine_cli("verify", "--data", str(root), "--qpe-source", "radar")
    assert res.returncode == 2 and "invalid choice: 'radar'" in res.stderr
    with pytest.raises(DataError, match="unknown QPE source 'radar'"):
        open_data(root, qpe="radar")

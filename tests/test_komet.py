"""The KoMet benchmark layout: GDAPS-KIM dfp/dfs NetCDF per run and lead, AWS gauge grids as .npy."""

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from engine.data.komet import LEVELS, KometCatalog
from engine.data.sources import detect, open_data
from engine.errors import DataError
from engine.grid import KOREA

RUN = "2021070100"
# A 0.125 deg (~12 km) GDAPS-KIM-like grid around Korea, small enough for a test.
KIM_LAT = np.arange(31.0, 40.51, 0.125)
KIM_LON = np.arange(123.0, 132.51, 0.125)
GAUGE = (40, 40)  # (row, col) of the one wet gauge
RAINC_PER_H, RAINL_PER_H = 2.0, 1.0


def _state(lat: np.ndarray, lon: np.ndarray, level: float) -> np.ndarray:
    """A field linear in lat/lon (bilinear regridding reproduces it exactly) that differs by level."""
    return 200 + 0.1 * level + lat - 0.5 * lon


def _write_komet(root: Path, leads=(0, 1, 2), curvilinear: bool = False, aws_hours=(1, 2), drop=None) -> Path:
    folder = root / "GDPS_KIM" / RUN[:6] / RUN[6:8] / RUN[8:]
    folder.mkdir(parents=True, exist_ok=True)
    lat2, lon2 = np.meshgrid(KIM_LAT, KIM_LON, indexing="ij")
    ny, nx = lat2.shape
    for lead in leads:
        with netCDF4.Dataset(folder / f"gdaps_kim_dfp_{RUN}_ft{lead:03d}.nc", "w") as nc:
            nc.createDimension("time", 1)
            nc.createDimension("lev", len(LEVELS))
            nc.createDimension("y", ny)
            nc.createDimension("x", nx)
            for name in ("hgt", "T", "rh_liq", "u", "v"):
                if name == drop:
                    continue
                var = nc.createVariable(name, "f8", ("time", "lev", "y", "x"), zlib=True)
                var[0] = np.stack([_state(lat2, lon2, lv) for lv in LEVELS])
        with netCDF4.Dataset(folder / f"gdaps_kim_dfs_{RUN}_ft{lead:03d}.nc", "w") as nc:
            nc.createDimension("time", 1)
            nc.createDimension("height", 1)
            nc.createDimension("y", ny)
            nc.createDimension("x", nx)
            if curvilinear:
                for name, values in (("lat", lat2), ("lon", lon2)):
                    nc.createVariable(name, "f8", ("y", "x"))[:] = values
            else:
                nc.createDimension("nlat", ny)
                nc.createDimension("nlon", nx)
                nc.createVariable("lat", "f8", ("nlat",))[:] = KIM_LAT
                nc.createVariable("lon", "f8", ("nlon",))[:] = KIM_LON
            psl = nc.createVariable("psl", "f8", ("time", "y", "x"))
            psl.units = "hPa"
            psl[0] = 1000 + 0 * lat2
            nc.createVariable("rainc_acc", "f8", ("time", "y", "x"))[0] = RAINC_PER_H * lead + 0 * lat2
            nc.createVariable("rainl_acc", "f8", ("time", "y", "x"))[0] = RAINL_PER_H * lead + 0 * lat2
            for name in ("t2m", "u10m", "v10m"):
                nc.createVariable(name, "f8", ("time", "height", "y", "x"))[0, 0] = _state(lat2, lon2, 0)
    aws = root / "AWS_GDPS_KIM_GRID" / RUN[:6]
    aws.mkdir(parents=True, exist_ok=True)
    for hour in aws_hours:
        grid = np.full((ny, nx), -9999.0)
        grid[GAUGE] = 12.0 * hour
        grid[10, 60] = 0.0  # a dry gauge
        np.save(aws / f"AWS_HOUR_ALL_{RUN[:8]}{hour:02d}00_000.npy", grid)
    return folder


def test_komet_folder_round_trips_every_channel_rain_and_gauges(tmp_path: Path):
    _write_komet(tmp_path)
    assert detect(tmp_path) == ("komet", "komet-aws")
    cat = open_data(tmp_path)
    assert isinstance(cat, KometCatalog) and cat.runs() == [RUN] and cat.lead_times(RUN) == [0, 1, 2]
    ds = cat.load_run(RUN, [1, 2])
    tl, tn = np.meshgrid(KOREA.lat, KOREA.lon, indexing="ij")
    np.testing.assert_allclose(ds["gh500"].values[0], _state(tl, tn, 500), atol=1e-3)  # level 500 hPa, not another
    np.testing.assert_allclose(ds["t850"].values[1], _state(tl, tn, 850), atol=1e-3)
    np.testing.assert_allclose(ds["t2m"].values[0], _state(tl, tn, 0), atol=1e-3)
    np.testing.assert_allclose(ds["msl"].values, 100000.0, rtol=1e-6)  # hPa in the file -> Pa
    # rainc_acc + rainl_acc accumulated from the start -> 3 mm in each hour
    np.testing.assert_allclose(ds["tp"].values, RAINC_PER_H + RAINL_PER_H, atol=1e-4)
    rain = cat.load_run(RUN, [1, 2], channels=("tp",))  # the app's view of a run it has post-processed
    assert list(rain.data_vars) == ["tp"] and np.array_equal(rain["tp"].values, ds["tp"].values)

    qpe = cat.load_qpe(RUN, [1, 2, 3])
    gy = np.abs(KOREA.lat - KIM_LAT[GAUGE[0]]).argmin()
    gx = np.abs(KOREA.lon - KIM_LON[GAUGE[1]]).argmin()
    assert qpe.values[0, gy, gx] == pytest.approx(12.0) and qpe.values[1, gy, gx] == pytest.approx(24.0)
    wet = np.isfinite(qpe.values[0]) & (qpe.values[0] > 0)
    assert 1 <= wet.sum() <= 9, "a 12 km gauge cell covers a few 5 km cells, not a blob"
    assert np.isnan(qpe.values[0, 0, 0]), "cells without a gauge are missing, not dry"
    assert qpe.attrs["missing_hours"] == "2021070103"
    gauges = [p.name for p in cat.qpe_files(RUN, [1, 2, 3])]
    assert gauges == [f"AWS_HOUR_ALL_20210701{h}00_000.npy" for h in ("01", "02")]


def test_komet_with_2d_coordinates_regrids_like_1d(tmp_path: Path):
    _write_komet(tmp_path / "a")
    _write_komet(tmp_path / "b", curvilinear=True)
    a = open_data(tmp_path / "a").load_run(RUN, [1])
    b = open_data(tmp_path / "b").load_run(RUN, [1])
    np.testing.assert_allclose(a["u850"].values, b["u850"].values, atol=1e-3)
    qa = open_data(tmp_path / "a").load_qpe(RUN, [1]).values
    qb = open_data(tmp_path / "b").load_qpe(RUN, [1]).values
    assert np.nansum(qa) == pytest.approx(np.nansum(qb), rel=0.5) and np.isfinite(qb).sum() > 0


def test_komet_bad_input_names_the_file_and_the_problem(tmp_path: Path):
    folder = _write_komet(tmp_path / "novar", drop="rh_liq")
    with pytest.raises(DataError, match="no variable 'rh_liq'") as exc:
        open_data(tmp_path / "novar").load_run(RUN)
    assert exc.value.path is not None and exc.value.path.parent == folder

    folder = _write_komet(tmp_path / "nopair")
    (folder / f"gdaps_kim_dfp_{RUN}_ft002.nc").unlink()
    with pytest.raises(DataError, match="lead 2 h has a dfs file but no dfp file"):
        open_data(tmp_path / "nopair").load_run(RUN)

    folder = _write_komet(tmp_path / "garbage")
    (folder / f"gdaps_kim_dfs_{RUN}_ft001.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(DataError, match="not a readable NetCDF") as exc:
        open_data(tmp_path / "garbage").load_run(RUN)
    assert exc.value.path.name == f"gdaps_kim_dfs_{RUN}_ft001.nc"

    _write_komet(tmp_path / "awsgrid")
    aws = tmp_path / "awsgrid" / "AWS_GDPS_KIM_GRID" / RUN[:6]
    np.save(aws / f"AWS_HOUR_ALL_{RUN[:8]}0100_000.npy", np.zeros((5, 5)))
    with pytest.raises(DataError, match="AWS grid has shape"):
        open_data(tmp_path / "awsgrid").load_qpe(RUN, [1])

    with pytest.raises(DataError, match="pairs komet with komet-aws"):
        open_data(tmp_path / "awsgrid", qpe="imerg")


def test_verify_and_predict_cli_read_a_komet_folder(tmp_path: Path, engine_cli, random_lite_weights: Path):
    _write_komet(tmp_path / "komet")
    res = engine_cli("verify", "--data", str(tmp_path / "komet"), "--thresholds", "0.1")
    assert res.returncode == 0, res.stderr
    assert "0.1" in res.stdout
    out = tmp_path / "pred.nc"
    res = engine_cli(
        "predict", "--data", str(tmp_path / "komet"), "--run", RUN, "--out", str(out),
        "--weights", str(random_lite_weights), "--device", "cpu",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    with netCDF4.Dataset(out) as nc:
        assert nc.variables["probability"].shape == (3, 3, *KOREA.shape)

from pathlib import Path

import cfgrib
import eccodes
import numpy as np
import pandas as pd
import pytest

from engine.channels import CHANNEL_NAMES
from engine.data.catalog import Catalog
from engine.data.grib import GribWriter, read_grib
from engine.data.lexicon import ECMWF
from engine.errors import DataError
from engine.grid import KOREA, Grid

INIT = pd.Timestamp("2026-07-05 00:00")


def _fields(rng: np.random.Generator, acc: float) -> dict[str, np.ndarray]:
    base = {ch: 100 + 10 * rng.standard_normal(KOREA.shape) for ch in CHANNEL_NAMES}
    base["tp"] = np.full(KOREA.shape, acc)
    return base


def test_demo_files_open_in_cfgrib_with_all_16_channels(demo_archive: Path):
    path = next((demo_archive / "nwp" / "2026070100").glob("*_f027.grib2"))
    datasets = cfgrib.open_datasets(str(path), backend_kwargs={"indexpath": ""})
    found = set()
    for ds in datasets:
        for name, da in ds.data_vars.items():
            levels = np.atleast_1d(da["isobaricInhPa"].values) if "isobaricInhPa" in da.coords else [None]
            found |= {(str(name), None if lv is None else int(lv)) for lv in levels}
        assert pd.Timestamp(ds["time"].values) == pd.Timestamp("2026-07-01")
        assert pd.Timedelta(ds["step"].values) == pd.Timedelta(hours=27)
    expected = {
        ("gh", 1000),
        ("gh", 850),
        ("gh", 500),
        ("r", 850),
        ("r", 500),
        ("t", 850),
        ("t", 500),
        ("u", 850),
        ("v", 850),
        ("u", 500),
        ("v", 500),
        ("msl", None),
        ("t2m", None),
        ("u10", None),
        ("v10", None),
        ("tp", None),
    }
    assert expected <= found


def test_round_trip_and_accumulated_rain_becomes_hourly(tmp_path: Path):
    rng = np.random.default_rng(1)
    written = {}
    with GribWriter(ECMWF) as writer:
        for lead, acc in ((0, 0.0), (1, 2.0), (2, 2.5), (3, 7.5)):
            written[lead] = _fields(rng, acc)
            writer.write(tmp_path / f"x_f{lead:03d}.grib2", INIT, lead, written[lead])
    ds = read_grib(sorted(tmp_path.glob("*.grib2")), ECMWF)
    assert list(ds["lead_time"].values.astype("timedelta64[h]").astype(int)) == [0, 1, 2, 3]
    assert pd.Timestamp(ds["init_time"].values) == INIT
    assert ds["lat"].values[0] < ds["lat"].values[-1]
    for lead in range(4):
        np.testing.assert_allclose(ds["t850"].values[lead], written[lead]["t850"], atol=0.02)
    np.testing.assert_allclose(ds["tp"].values[:, 5, 5], [0.0, 2.0, 0.5, 5.0], atol=1e-3)
    assert ds["tp"].attrs["units"] == "mm"


def test_mixed_level_types_in_any_order_with_foreign_messages(tmp_path: Path):
    """Real files mix level types and carry extra fields: order and extras must not matter."""
    path = tmp_path / "run_f001.grib2"
    with GribWriter(ECMWF) as writer:
        writer.write(path, INIT, 1, _fields(np.random.default_rng(2), 1.0))
    with open(path, "rb") as fh:
        messages = []
        while (h := eccodes.codes_grib_new_from_file(fh)) is not None:
            messages.append(eccodes.codes_get_message(h))
            eccodes.codes_release(h)
    extra = eccodes.codes_new_from_message(messages[7])  # t850 re-labelled as t at 700 hPa: not one of ours
    eccodes.codes_set(extra, "level", 700)
    messages.append(eccodes.codes_get_message(extra))
    eccodes.codes_release(extra)
    shuffled = tmp_path / "shuffled_f001.grib2"
    shuffled.write_bytes(b"".join(messages[i] for i in np.random.default_rng(3).permutation(len(messages))))
    ds = read_grib([shuffled], ECMWF)
    assert set(CHANNEL_NAMES) <= set(ds.data_vars)


def test_coarser_global_style_grid_is_regridded(tmp_path: Path):
    coarse = Grid(lat0=30.0, lon0=120.0, step=0.25, ny=45, nx=61, name="quarter")
    lat2, lon2 = np.meshgrid(coarse.lat, coarse.lon, indexing="ij")
    fields = {ch: 280 + lat2 - 0.5 * lon2 for ch in CHANNEL_NAMES}
    fields["tp"] = np.ones(coarse.shape)
    with GribWriter(ECMWF, coarse) as writer:
        writer.write(tmp_path / "g_f001.grib2", INIT, 1, fields)
    ds = read_grib([tmp_path / "g_f001.grib2"], ECMWF)
    assert ds["t850"].shape == (1, *KOREA.shape)
    tl, tn = np.meshgrid(KOREA.lat, KOREA.lon, indexing="ij")
    np.testing.assert_allclose(ds["t850"].values[0], 280 + tl - 0.5 * tn, atol=0.02)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "not a GRIB file"), (b"hello world" * 100, "not a GRIB file"), (b"GRIB\x00\x00", "no GRIB message|corrupt")],
)
def test_non_grib_input_is_named_and_explained(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad_f001.grib2"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        read_grib([path], ECMWF)
    assert err.value.path == path


def test_truncated_file_is_reported(demo_archive: Path, tmp_path: Path):
    good = next((demo_archive / "nwp" / "2026070100").glob("*_f005.grib2")).read_bytes()
    path = tmp_path / "cut_f005.grib2"
    path.write_bytes(good[: len(good) * 2 // 3])
    with pytest.raises(DataError, match="corrupt or truncated|missing channels") as err:
        read_grib([path], ECMWF)
    assert str(path.name) in str(err.value)


def test_missing_channel_is_named(tmp_path: Path):
    fields = _fields(np.random.default_rng(4), 0.0)
    path = tmp_path / "m_f001.grib2"
    with GribWriter(ECMWF) as writer:
        writer.write(path, INIT, 1, fields)
    kept = []
    with open(path, "rb") as fh:
        while (h := eccodes.codes_grib_new_from_file(fh)) is not None:
            if not (eccodes.codes_get(h, "shortName") == "r" and eccodes.codes_get(h, "level") == 500):
                kept.append(eccodes.codes_get_message(h))
            eccodes.codes_release(h)
    path.write_bytes(b"".join(kept))
    with pytest.raises(DataError, match=r"missing channels \['r500'\]"):
        read_grib([path], ECMWF)
    # a view of the rain reads the rain alone: the other messages are skipped, so their lack is not its error
    rain = read_grib([path], ECMWF, channels=("tp",))
    assert list(rain.data_vars) == ["tp"] and rain["tp"].shape == (1, *KOREA.shape)


def test_files_from_two_runs_are_refused(tmp_path: Path):
    with GribWriter(ECMWF) as writer:
        writer.write(tmp_path / "a_f001.grib2", INIT, 1, _fields(np.random.default_rng(5), 0.0))
        writer.write(tmp_path / "b_f002.grib2", INIT + pd.Timedelta(days=1), 2, _fields(np.random.default_rng(6), 0.0))
    with pytest.raises(DataError, match="mixes runs"):
        read_grib(sorted(tmp_path.glob("*.grib2")), ECMWF)


def test_a_lead_time_the_run_lacks_is_named_with_those_it_has(demo_archive: Path):
    """Asked for hours past the run's end, the reader said "no GRIB files given"."""
    with pytest.raises(DataError, match=r"run 2026070100 has no lead time\(s\) \[60, 72\] h \(it has 0-48 h\)"):
        Catalog(demo_archive).load_run("2026070100", [6, 60, 72])

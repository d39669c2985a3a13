"""Source adapters, each on a small file written in that source's layout."""

import subprocess
import sys
from pathlib import Path

import eccodes
import numpy as np
import pandas as pd
import pytest

from engine.channels import CHANNEL_NAMES
from engine.data.catalog import Catalog
from engine.data.grib import GribWriter, read_grib
from engine.data.lexicon import ECMWF, KIM
from engine.errors import DataError
from engine.grid import KOREA, Grid

INIT = pd.Timestamp("2026-07-10 00:00")


def _write_lambert_kim(path: Path, lead: int, acc_mm: float, cover_domain: bool = True) -> None:
    """A KIM-like GRIB2 file: Lambert conformal 9 km, prmsl, tp accumulated in kg m-2, WMO short names."""
    nx, ny = (120, 110) if cover_domain else (40, 40)
    with open(path, "ab") as fh:
        for ch in CHANNEL_NAMES:
            key = KIM.keys[ch]
            h = eccodes.codes_grib_new_from_samples("GRIB2")
            eccodes.codes_set(h, "gridType", "lambert")
            for k, v in [
                ("Nx", nx),
                ("Ny", ny),
                ("latitudeOfFirstGridPointInDegrees", 31.0),
                ("longitudeOfFirstGridPointInDegrees", 122.5),
                ("LaDInDegrees", 38.0),
                ("LoVInDegrees", 126.0),
                ("Latin1InDegrees", 30.0),
                ("Latin2InDegrees", 60.0),
                ("DxInMetres", 9000.0),
                ("DyInMetres", 9000.0),
                ("dataDate", 20260710),
                ("dataTime", 0),
            ]:
                eccodes.codes_set(h, k, v)
            if ch == "tp":
                eccodes.codes_set(h, "productDefinitionTemplateNumber", 8)
            eccodes.codes_set(h, "typeOfLevel", key.type_of_level)
            if key.type_of_level not in ("surface", "meanSea"):
                eccodes.codes_set(h, "level", key.level)
            eccodes.codes_set(h, "shortName", key.short_name)
            if ch == "tp":
                eccodes.codes_set(h, "stepType", "accum")
                eccodes.codes_set(h, "startStep", 0)
                eccodes.codes_set(h, "endStep", lead)
            else:
                eccodes.codes_set(h, "step", lead)
            eccodes.codes_set_values(h, np.zeros(nx * ny))  # the point count must match before lat/lon exist
            lat = eccodes.codes_get_array(h, "latitudes")
            lon = eccodes.codes_get_array(h, "longitudes")
            values = np.full(lat.shape, acc_mm) if ch == "tp" else 250 + lat - 0.5 * lon
            eccodes.codes_set_values(h, values)
            eccodes.codes_write(h, fh)
            eccodes.codes_release(h)


def test_kim_lambert_conformal_file_is_regridded(tmp_path: Path):
    for lead, acc in ((0, 0.0), (1, 1.5), (2, 4.0)):
        _write_lambert_kim(tmp_path / f"kim_f{lead:03d}.grib2", lead, acc)
    ds = read_grib(sorted(tmp_path.glob("*.grib2")), KIM)
    assert ds["t850"].shape == (3, *KOREA.shape)
    tl, tn = np.meshgrid(KOREA.lat, KOREA.lon, indexing="ij")
    np.testing.assert_allclose(ds["t850"].values[1], 250 + tl - 0.5 * tn, atol=0.05)  # linear field: exact-ish
    np.testing.assert_allclose(ds["tp"].values[:, 80, 80], [0.0, 1.5, 2.5], atol=1e-3)
    assert "msl" in ds and ds["msl"].attrs["units"] == "Pa"


def test_a_lambert_grid_that_misses_the_domain_is_refused(tmp_path: Path):
    _write_lambert_kim(tmp_path / "small_f001.grib2", 1, 0.0, cover_domain=False)
    with pytest.raises(DataError, match="does not cover"):
        read_grib([tmp_path / "small_f001.grib2"], KIM)


def test_ecmwf_open_data_layout_one_file_per_step_at_quarter_degree(tmp_path: Path):
    """ECMWF open data: 0.25 deg, many steps, file names without _fLLL, tp in metres since the start."""
    quarter = Grid(lat0=30.0, lon0=120.0, step=0.25, ny=45, nx=61, name="ecmwf_0p25")
    run_dir = tmp_path / "nwp" / "2026071000"
    lat2, _lon2 = np.meshgrid(quarter.lat, quarter.lon, indexing="ij")
    with GribWriter(ECMWF, quarter) as writer:
        for lead in (0, 3, 6):
            fields = {ch: 280 + 0.1 * lat2 for ch in CHANNEL_NAMES}
            fields["tp"] = np.full(quarter.shape, 2.0 * lead)  # mm since the start (written as metres)
            writer.write(run_dir / f"20260710000000-{lead}h-oper-fc.grib2", INIT, lead, fields)
    cat = Catalog(tmp_path, lexicon=ECMWF)
    assert cat.lead_times("2026071000") == [0, 3, 6]
    ds = cat.load_run("2026071000")
    np.testing.assert_allclose(ds["tp"].values[:, 50, 50], [0.0, 2.0, 2.0], atol=1e-3)  # 6 mm per 3 h = 2 mm/h


def test_sources_command_lists_every_adapter():
    res = subprocess.run([sys.executable, "-m", "engine", "sources"], capture_output=True, text=True)
    assert res.returncode == 0
    for name in ("demo", "ecmwf", "kim", "komet", "qpe-netcdf", "imerg", "komet-aws"):
        assert name in res.stdout


def test_the_demo_archive_is_detected_as_demo_and_a_copy_without_its_record_as_ecmwf(
    demo_archive: Path, tmp_path: Path
):
    """The sidebar says which reader it picked: the demo folder is `demo`; its GRIB alone reads as ECMWF GRIB."""
    from engine.data.sources import detect

    assert detect(demo_archive) == ("demo", "qpe-netcdf")
    (tmp_path / "nwp").symlink_to(demo_archive / "nwp")
    (tmp_path / "archive.json").write_text("{not json")
    assert detect(tmp_path) == ("ecmwf", "qpe-netcdf")

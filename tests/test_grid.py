import numpy as np
import pytest
import xarray as xr

from engine.errors import DataError
from engine.grid import KOREA, Grid, compute_land_mask


def test_grid_covers_the_required_domain_in_multiples_of_32():
    s, n, w, e = KOREA.bounds
    assert s <= 32.5 and n >= 39.5 and w <= 124.0 and e >= 131.5
    assert KOREA.ny % 32 == 0 and KOREA.nx % 32 == 0
    assert np.allclose(np.diff(KOREA.lat), 0.05) and np.allclose(np.diff(KOREA.lon), 0.05)


def test_shipped_land_mask_is_global_land_mask():
    assert np.array_equal(KOREA.land_mask, compute_land_mask(KOREA.lat, KOREA.lon))


def _at(mask: np.ndarray, lat: float, lon: float) -> bool:
    return bool(mask[np.abs(KOREA.lat - lat).argmin(), np.abs(KOREA.lon - lon).argmin()])


def test_masks_know_korea():
    assert _at(KOREA.land_mask, 37.57, 126.98)  # Seoul
    assert not _at(KOREA.land_mask, 36.0, 125.0)  # Yellow Sea
    assert _at(KOREA.qpe_mask, 37.57, 126.98)
    assert _at(KOREA.qpe_mask, 34.0, 127.0)  # sea near the southern radars
    assert not _at(KOREA.qpe_mask, 32.0, 131.4)  # open sea far from any radar
    assert not _at(KOREA.qpe_mask, 39.7, 124.0)  # Chinese coast far outside radar range


def _field(lat, lon, values):
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


def test_bilinear_regrid_is_exact_for_a_linear_field_and_handles_descending_lat():
    lat = np.arange(42.0, 29.0, -0.25)  # north to south, like GRIB
    lon = np.arange(118.0, 136.0, 0.25)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    out = KOREA.regrid(_field(lat, lon, 3 * lat2 - 2 * lon2 + 1), "bilinear")
    tl, tn = np.meshgrid(KOREA.lat, KOREA.lon, indexing="ij")
    np.testing.assert_allclose(out.values, 3 * tl - 2 * tn + 1, atol=1e-9)


def test_area_mean_regrid_averages_finer_cells():
    fine = Grid(lat0=KOREA.lat0 - 0.02, lon0=KOREA.lon0 - 0.02, step=0.01, ny=KOREA.ny * 5 + 5, nx=KOREA.nx * 5 + 5)
    rng = np.random.default_rng(0)
    values = rng.gamma(0.5, 2.0, fine.shape)
    out = KOREA.regrid(_field(fine.lat, fine.lon, values), "area_mean")
    # Target cell (10, 20) holds source rows/cols within +-0.025 deg of its centre.
    iy = np.flatnonzero(np.abs(fine.lat - KOREA.lat[10]) < 0.025 - 1e-9)
    ix = np.flatnonzero(np.abs(fine.lon - KOREA.lon[20]) < 0.025 - 1e-9)
    assert out.values[10, 20] == pytest.approx(values[np.ix_(iy, ix)].mean())
    assert abs(out.values.mean() - values.mean()) < 0.01  # area mean keeps the total


def test_regrid_refuses_a_grid_that_does_not_cover_the_domain():
    lat = np.arange(33.0, 38.0, 0.1)
    lon = np.arange(120.0, 135.0, 0.1)
    with pytest.raises(DataError, match="does not cover"):
        KOREA.regrid(_field(lat, lon, np.zeros((lat.size, lon.size))), source="small.grib2")

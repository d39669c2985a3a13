"""The model grid over Korea: coordinates, land/sea and QPE-validity masks, and regridding onto it.

Regular latitude/longitude at 0.05 deg (about 5 km), 160 x 160 pixels (each side a multiple of 32, so the
encoder's 32x downsampling divides it), cell centres 31.80-39.75 N and 123.60-131.55 E. ``lat`` ascends
(south to north) everywhere in the engine; readers flip north-to-south GRIB scans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import xarray as xr

from engine.errors import DataError

# KMA weather-radar sites (approximate public coordinates, deg N, deg E): the QPE is valid within their range.
RADAR_SITES: dict[str, tuple[float, float]] = {
    "Baengnyeongdo": (37.97, 124.63),
    "Gwanaksan": (37.44, 126.96),
    "Gwangdeoksan": (38.12, 127.43),
    "Gangneung": (37.81, 128.86),
    "Oseongsan": (35.99, 126.80),
    "Myeonbongsan": (36.18, 128.99),
    "Gudeoksan": (35.12, 129.00),
    "Jindo": (34.47, 126.32),
    "Gosan": (33.29, 126.16),
    "Seongsan": (33.38, 126.88),
}
LAND_RANGE_KM = 200.0  # radar + gauge QPE over land
SEA_RANGE_KM = 100.0  # radar-only QPE over the sea degrades fast with range

EARTH_RADIUS_KM = 6371.0
PIXEL_KM2 = 25.0  # a 0.05 deg cell is about 5 km x 5 km over Korea: areas are counted in these
LAND_MASK_FILE = Path(__file__).parent / "data" / "korea_5km_land.npy"


def compute_land_mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Land (True) / sea at the given cell centres, straight from ``global-land-mask``."""
    from global_land_mask import globe

    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    return np.asarray(globe.is_land(lat2, lon2), dtype=bool)


@dataclass(frozen=True)
class Grid:
    """A regular lat/lon grid; the default instance is the Korea model grid."""

    lat0: float = 31.80
    lon0: float = 123.60
    step: float = 0.05
    ny: int = 160
    nx: int = 160
    name: str = "korea_5km"
    _cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    @cached_property
    def lat(self) -> np.ndarray:
        return np.round(self.lat0 + self.step * np.arange(self.ny), 6)

    @cached_property
    def lon(self) -> np.ndarray:
        return np.round(self.lon0 + self.step * np.arange(self.nx), 6)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(south, north, west, east) of the cell centres."""
        return (float(self.lat[0]), float(self.lat[-1]), float(self.lon[0]), float(self.lon[-1]))

    def coords(self) -> dict[str, xr.DataArray]:
        return {
            "lat": xr.DataArray(self.lat, dims="lat", attrs={"standard_name": "latitude", "units": "degrees_north"}),
            "lon": xr.DataArray(self.lon, dims="lon", attrs={"standard_name": "longitude", "units": "degrees_east"}),
        }

    @cached_property
    def land_mask(self) -> np.ndarray:
        """True over land, from the 1 km ``global-land-mask`` (GLOBE) data, sampled at the cell centres.

        The default grid's mask ships pre-computed (``engine/data/korea_5km_land.npy``): importing
        ``global-land-mask`` costs about 5 s and 1 GB, too much for the app's start.
        """
        if self == KOREA_DEFAULTS and LAND_MASK_FILE.exists():
            return np.unpackbits(np.load(LAND_MASK_FILE))[: self.ny * self.nx].reshape(self.shape).astype(bool)
        return compute_land_mask(self.lat, self.lon)

    @cached_property
    def radar_distance_km(self) -> np.ndarray:
        """Great-circle distance of each cell to the nearest KMA radar site."""
        lat2, lon2 = np.meshgrid(np.radians(self.lat), np.radians(self.lon), indexing="ij")
        best = np.full(self.shape, np.inf)
        for site_lat, site_lon in RADAR_SITES.values():
            a, b = np.radians(site_lat), np.radians(site_lon)
            h = np.sin((lat2 - a) / 2) ** 2 + np.cos(lat2) * np.cos(a) * np.sin((lon2 - b) / 2) ** 2
            best = np.minimum(best, 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h)))
        return best

    @cached_property
    def qpe_mask(self) -> np.ndarray:
        """Where radar/gauge QPE is trusted: land within 200 km of a radar, sea within 100 km."""
        d = self.radar_distance_km
        return (self.land_mask & (d <= LAND_RANGE_KM)) | (~self.land_mask & (d <= SEA_RANGE_KM))

    def matches(self, lat: np.ndarray, lon: np.ndarray, tol: float = 1e-4) -> bool:
        """True when ``lat``/``lon`` (ascending 1-D) are exactly this grid's coordinates."""
        return (
            lat.shape == self.lat.shape
            and lon.shape == self.lon.shape
            and bool(np.allclose(lat, self.lat, atol=tol))
            and bool(np.allclose(lon, self.lon, atol=tol))
        )

    def regrid(self, da: xr.DataArray, method: str = "bilinear", source: str | None = None) -> xr.DataArray:
        """Put a field on a regular lat/lon grid onto this grid.

        ``method``: ``bilinear`` for state variables, ``area_mean`` (mean of the source cells whose centres fall
        in each target cell; bilinear where the source is coarser than the target) or ``nearest`` for rain.
        Raises :class:`DataError` when the source does not cover this grid.
        """
        if method not in ("bilinear", "nearest", "area_mean"):
            raise ValueError(f"unknown regrid method {method!r}")
        for dim in ("lat", "lon"):  # sortby realigns the whole array even when it is in order already (~2 ms)
            if np.any(np.diff(da[dim].values) < 0):
                da = da.sortby(dim)
        slat, slon = da["lat"].values.astype(float), da["lon"].values.astype(float)
        if self.matches(slat, slon):
            return da.assign_coords(lat=self.lat, lon=self.lon)
        half = 0.5 * max(np.median(np.diff(slat)) if slat.size > 1 else 0, self.step)
        s, n, w, e = self.bounds
        if not (slat[0] <= s + half and slat[-1] >= n - half and slon[0] <= w + half and slon[-1] >= e - half):
            raise DataError(
                f"grid {slat[0]:.2f}-{slat[-1]:.2f} N, {slon[0]:.2f}-{slon[-1]:.2f} E does not cover the model "
                f"domain {s:.2f}-{n:.2f} N, {w:.2f}-{e:.2f} E",
                source,
            )
        lead_dims = [d for d in da.dims if d not in ("lat", "lon")]
        values = da.transpose(*lead_dims, "lat", "lon").values
        flat = values.reshape(-1, slat.size, slon.size)
        out = np.stack([self._regrid_2d(f, slat, slon, method) for f in flat])
        out = out.reshape(values.shape[:-2] + self.shape)
        coords = {d: da[d] for d in lead_dims if d in da.coords}
        coords.update(self.coords())
        return xr.DataArray(out, dims=(*lead_dims, "lat", "lon"), coords=coords, attrs=da.attrs, name=da.name)

    def values_on(self, da: xr.DataArray, method: str = "bilinear", source: str | None = None) -> np.ndarray:
        """:meth:`regrid`'s values, leading dimensions first: where ``da`` lies on this grid already, its own values,
        with no coordinates built (a QPE hour, read 48 times to open a run)."""
        if self.matches(da["lat"].values, da["lon"].values):
            return da.transpose(..., "lat", "lon").values
        return self.regrid(da, method, source).values

    def _regrid_2d(self, f: np.ndarray, slat: np.ndarray, slon: np.ndarray, method: str) -> np.ndarray:
        tlat = np.clip(self.lat, slat[0], slat[-1])
        tlon = np.clip(self.lon, slon[0], slon[-1])
        pts = np.stack(np.meshgrid(tlat, tlon, indexing="ij"), axis=-1)
        from scipy.interpolate import RegularGridInterpolator  # here: ~1 s to import, and most runs need no regrid

        interp_method = "nearest" if method == "nearest" else "linear"
        interp = RegularGridInterpolator((slat, slon), f, method=interp_method, bounds_error=False)
        result = interp(pts)
        if method == "area_mean":
            iy = np.floor((slat - self.lat0) / self.step + 0.5).astype(int)
            ix = np.floor((slon - self.lon0) / self.step + 0.5).astype(int)
            yy, xx = np.meshgrid(iy, ix, indexing="ij")
            ok = (yy >= 0) & (yy < self.ny) & (xx >= 0) & (xx < self.nx) & np.isfinite(f)
            idx = (yy * self.nx + xx)[ok]
            total = np.bincount(idx, weights=f[ok], minlength=self.ny * self.nx)
            count = np.bincount(idx, minlength=self.ny * self.nx)
            has = count > 0
            mean = np.where(has, total / np.maximum(count, 1), np.nan).reshape(self.shape)
            covered = has.reshape(self.shape)
            # The source is finer than the target only where several source cells fall in a target cell.
            if count.max(initial=0) > 1:
                result = np.where(covered, mean, result)
        return result

    def regrid_points(
        self, values: np.ndarray, lat: np.ndarray, lon: np.ndarray, method: str = "bilinear", source=None
    ) -> np.ndarray:
        """Fields on scattered or curvilinear points (e.g. a Lambert-conformal NWP grid) -> (..., ny, nx).

        ``values`` (..., n), ``lat``/``lon`` (n,). Linear interpolation on a Delaunay triangulation of the source
        points (cached per source grid), or the ``nearest`` point (gauge cells); ``area_mean`` averages the source
        points inside each target cell where the source is finer. Raises :class:`DataError` if the source does not
        cover this grid.
        """
        from scipy.interpolate import LinearNDInterpolator
        from scipy.spatial import cKDTree

        tri = _triangulation(lat, lon)
        tlat, tlon = np.meshgrid(self.lat, self.lon, indexing="ij")
        targets = np.column_stack([tlon.ravel(), tlat.ravel()])
        if (tri.find_simplex(targets) < 0).any():
            s, n, w, e = self.bounds
            raise DataError(
                f"grid {lat.min():.2f}-{lat.max():.2f} N, {lon.min():.2f}-{lon.max():.2f} E does not cover the model "
                f"domain {s:.2f}-{n:.2f} N, {w:.2f}-{e:.2f} E",
                source,
            )
        flat = values.reshape(-1, values.shape[-1])
        if method == "nearest":
            nearest = cKDTree(np.column_stack([lon, lat])).query(targets)[1]
            out = flat[:, nearest].reshape(flat.shape[0], *self.shape).astype(float)
        else:
            out = np.stack([LinearNDInterpolator(tri, f)(tlon, tlat) for f in flat])
        if method == "area_mean":
            iy = np.floor((lat - self.lat0) / self.step + 0.5).astype(int)
            ix = np.floor((lon - self.lon0) / self.step + 0.5).astype(int)
            ok = (iy >= 0) & (iy < self.ny) & (ix >= 0) & (ix < self.nx)
            idx = (iy * self.nx + ix)[ok]
            count = np.bincount(idx, minlength=self.ny * self.nx)
            if count.max(initial=0) > 1:
                has = (count > 0).reshape(self.shape)
                for i, f in enumerate(flat):
                    mean = np.bincount(idx, weights=f[ok], minlength=self.ny * self.nx) / np.maximum(count, 1)
                    out[i] = np.where(has, mean.reshape(self.shape), out[i])
        return out.reshape(*values.shape[:-1], *self.shape)


_TRIANGULATIONS: dict[tuple, object] = {}


def _triangulation(lat: np.ndarray, lon: np.ndarray):
    from scipy.spatial import Delaunay

    key = (lat.size, hash(lat.tobytes()), hash(lon.tobytes()))
    if key not in _TRIANGULATIONS:
        _TRIANGULATIONS.clear()  # one source grid at a time is the common case; keep memory flat
        _TRIANGULATIONS[key] = Delaunay(np.column_stack([lon, lat]))
    return _TRIANGULATIONS[key]


KOREA = Grid()
KOREA_DEFAULTS = Grid()

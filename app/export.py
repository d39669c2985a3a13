"""Exports: a publication-quality PNG map (cartopy, Lambert conformal), NetCDF and CSV bytes."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from engine.geo.coastlines import shapely_lines

LEVELS = [0.1, 0.5, 1, 2, 5, 10, 20, 30, 50]


def png_map(values: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, label: str = "mm/h") -> bytes:
    """Rain map on the KMA-like steps with coastlines and borders from the shipped lines (no download)."""
    import cartopy.crs as ccrs
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from app.maps import RAIN_COLOURS

    proj = ccrs.LambertConformal(central_longitude=127.5, central_latitude=36.0, standard_parallels=(30.0, 60.0))
    fig = plt.figure(figsize=(7.5, 7.0), dpi=150)
    ax = fig.add_subplot(1, 1, 1, projection=proj)
    ax.set_extent([lon[0], lon[-1], lat[0], lat[-1]], crs=ccrs.PlateCarree())
    cmap = ListedColormap(RAIN_COLOURS[1:])
    cmap.set_under("white")
    cmap.set_over(RAIN_COLOURS[-1])
    norm = BoundaryNorm([*LEVELS, 200], cmap.N)
    mesh = ax.pcolormesh(
        lon, lat, np.ma.masked_invalid(values), cmap=cmap, norm=norm, transform=ccrs.PlateCarree(), shading="nearest"
    )
    ax.add_geometries(shapely_lines("coastline"), ccrs.PlateCarree(), facecolor="none", edgecolor="k", linewidth=0.6)
    ax.add_geometries(shapely_lines("border"), ccrs.PlateCarree(), facecolor="none", edgecolor="0.3", linewidth=0.6)
    gl = ax.gridlines(draw_labels=True, linewidth=0.3, color="0.6", x_inline=False, y_inline=False)
    gl.top_labels = gl.right_labels = False
    cb = fig.colorbar(mesh, ax=ax, orientation="horizontal", pad=0.06, fraction=0.045, extend="max", ticks=LEVELS)
    cb.set_label(label)
    ax.set_title(title, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def netcdf_bytes(ds: xr.Dataset) -> bytes:
    from engine.cache import write_prediction

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prediction.nc"
        write_prediction(ds, path)
        return path.read_bytes()

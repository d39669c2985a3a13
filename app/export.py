"""Exports: publication-quality PNG maps (cartopy, Lambert conformal) of any map the viewer shows, NetCDF bytes."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from app.maps import CLASS_COLOURS, LEVELS, PROB_COLOURS, PROB_LEVELS, RAIN_COLOURS, UNSCORED_GREY, greyed
from engine.geo.coastlines import shapely_lines


@dataclass(frozen=True)
class Scale:
    """A stepped colour scale: values below ``levels[0]`` take ``colours[0]``, each step up to the next level the
    next colour, above ``top`` the last one; the colour bar ticks each level with ``ticks`` and reads ``label``."""

    levels: tuple[float, ...]
    colours: tuple[str, ...]
    top: float
    ticks: tuple[str, ...]
    label: str
    extend: str = "neither"  # "max": the last colour also holds values above ``top``


RAIN = Scale(tuple(LEVELS), tuple(RAIN_COLOURS), 200.0, tuple(f"{v:g}" for v in LEVELS), "rain (mm/h)", "max")
PROBABILITY = Scale(
    tuple(PROB_LEVELS), tuple(PROB_COLOURS), 1.0, tuple(f"{100 * v:g}" for v in PROB_LEVELS), "probability (%)"
)
# Classes 0, 1, 2 (< 0.1, 0.1-10, >= 10 mm/h): each colour begins at the rain threshold its tick names.
CLASSES = Scale((0.5, 1.5), tuple(CLASS_COLOURS), 2.5, ("0.1", "10"), "forecast class, from (mm/h)")


def _cmap(colours: list[str] | tuple[str, ...]):
    """Stepped colours: the first below the lowest level, the last also above the top."""
    from matplotlib.colors import ListedColormap

    return ListedColormap(colours[1:]).with_extremes(under=colours[0], over=colours[-1])


def png_map(
    values: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    title: str,
    scale: Scale = RAIN,
    learnt: np.ndarray | None = None,
) -> bytes:
    """A map on a Lambert conformal projection with coastlines and borders from the shipped lines (no download).
    ``learnt``, for a model map: pixels outside it (no observation in the training data) are greyed, as in the app.
    NaN (no valid observation) is grey too, as in the app's QPE map: left white, it read as dry."""
    import cartopy.crs as ccrs
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker as mticker
    from matplotlib.colors import BoundaryNorm

    proj = ccrs.LambertConformal(central_longitude=127.5, central_latitude=36.0, standard_parallels=(30.0, 60.0))
    fig = plt.figure(figsize=(7.5, 7.0), dpi=150)
    ax = fig.add_subplot(1, 1, 1, projection=proj)
    ax.set_extent([lon[0], lon[-1], lat[0], lat[-1]], crs=ccrs.PlateCarree())
    norm = BoundaryNorm([*scale.levels, scale.top], len(scale.colours) - 1)
    plate = ccrs.PlateCarree()
    field = np.ma.masked_invalid(values)
    veiled = learnt is not None and not learnt.all()
    shown = np.ma.masked_where(~learnt, field) if veiled else field
    unobserved = ~np.isfinite(values)
    if unobserved.any():
        from matplotlib.colors import ListedColormap

        grey = np.ma.masked_where(~unobserved, np.zeros(values.shape))
        ax.pcolormesh(lon, lat, grey, cmap=ListedColormap([UNSCORED_GREY]), transform=plate, shading="nearest")
    mesh = ax.pcolormesh(lon, lat, shown, cmap=_cmap(scale.colours), norm=norm, transform=plate, shading="nearest")
    if veiled:
        # Opaque cells in the colours greyed half-way: translucent cells overlap at their seams as a visible grid.
        greyed_cmap = _cmap([greyed(c) for c in scale.colours])
        ax.pcolormesh(
            lon, lat, np.ma.masked_where(learnt, field), cmap=greyed_cmap, norm=norm, transform=plate, shading="nearest"
        )
    ax.add_geometries(shapely_lines("coastline"), plate, facecolor="none", edgecolor="k", linewidth=0.6)
    ax.add_geometries(shapely_lines("border"), plate, facecolor="none", edgecolor="0.3", linewidth=0.6)
    gl = ax.gridlines(draw_labels=True, linewidth=0.3, color="0.6", x_inline=False, y_inline=False, rotate_labels=False)
    gl.top_labels = gl.right_labels = False
    gl.xlocator = mticker.FixedLocator(np.arange(120, 136, 2))
    gl.ylocator = mticker.FixedLocator(np.arange(30, 44, 1))
    cb = fig.colorbar(
        mesh, ax=ax, orientation="horizontal", pad=0.07, fraction=0.045, extend=scale.extend, ticks=list(scale.levels)
    )
    cb.ax.set_xticklabels(scale.ticks)
    cb.set_label(scale.label)
    ax.set_title(title, fontsize=10)
    notes = ["grey: no observation here in the training data"] if veiled else []
    notes += ["light grey: no valid observation"] if unobserved.any() else []
    if notes:
        fig.text(0.5, 0.01, "; ".join(notes), ha="center", fontsize=8, color="0.3")
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

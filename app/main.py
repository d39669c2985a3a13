"""Case viewer: raw NWP rain and observed QPE over Korea for a run and lead time."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.data_source import DEMO_RUNS, data_dir, demo_missing
from engine.data.catalog import Catalog
from engine.errors import DataError
from engine.geo.coastlines import plotly_paths

st.set_page_config(page_title="Korea rain post-processor", layout="wide")
KST = pd.Timedelta(hours=9)
# KMA-like hourly rain steps (mm/h) on a shared colour scale.
LEVELS = [0.1, 0.5, 1, 2, 5, 10, 20, 30, 50]
COLOURS = ["#ffffff", "#c6e8fb", "#7fc8f0", "#3a9be0", "#1c5fc7", "#38b24a", "#f7e53b", "#f39c1f", "#e0301e", "#8e1a91"]


def _colourscale() -> list[list]:
    """Stepped scale over the index of the level each value falls in (0 = below 0.1 mm/h)."""
    n = len(COLOURS)
    scale = []
    for i, colour in enumerate(COLOURS):
        scale += [[i / n, colour], [(i + 1) / n, colour]]
    return scale


def _binned(values: np.ndarray) -> np.ndarray:
    out = np.digitize(values, LEVELS).astype(float)
    out[~np.isfinite(values)] = np.nan
    return out


@st.cache_resource(show_spinner=False)
def _catalog(folder: str) -> Catalog:
    return Catalog(Path(folder))


@st.cache_data(show_spinner="Reading the run's GRIB2 files...", max_entries=4)
def _run_rain(folder: str, run: str) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray, np.ndarray]:
    cat = _catalog(folder)
    ds = cat.load_run(run)
    leads = [int(x) for x in ds["lead_time"].values.astype("timedelta64[h]").astype(int)]
    qpe = cat.load_qpe(run, leads)
    return ds["tp"].values, qpe.values, leads, ds["lat"].values, ds["lon"].values


def _map(values: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, when: str) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=_binned(values),
            x=lon,
            y=lat,
            customdata=values,
            zmin=0,
            zmax=len(COLOURS),
            colorscale=_colourscale(),
            colorbar={"title": "mm/h", "tickvals": np.arange(1, len(COLOURS)), "ticktext": [str(v) for v in LEVELS]},
            hovertemplate="%{customdata:.2f} mm/h<br>%{y:.2f}°N %{x:.2f}°E<br>" + when + "<extra></extra>",
        )
    )
    for kind, colour in (("coastline", "#333"), ("border", "#777")):
        lons, lats = plotly_paths(kind)
        fig.add_trace(go.Scatter(x=lons, y=lats, mode="lines", line={"color": colour, "width": 1}, hoverinfo="skip"))
    fig.update_layout(
        title=title,
        showlegend=False,
        height=520,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"range": [lon[0], lon[-1]], "title": "longitude (°E)"},
        yaxis={"range": [lat[0], lat[-1]], "title": "latitude (°N)", "scaleanchor": "x", "scaleratio": 1.2},
    )
    return fig


def main() -> None:
    st.title("Hourly rain over Korea: NWP vs observed QPE")
    folder = data_dir()
    if demo_missing(folder):
        from engine.data.demo import generate

        with st.spinner(f"First start: generating the demo archive ({DEMO_RUNS} runs) in {folder}..."):
            generate(folder, runs=DEMO_RUNS, progress=False)
    try:
        runs = _catalog(str(folder)).runs()
        run = st.sidebar.selectbox("Forecast run (UTC)", runs, index=len(runs) - 1)
        nwp, qpe, leads, lat, lon = _run_rain(str(folder), run)
    except DataError as exc:
        st.error(f"Cannot read the data: {exc}")
        return
    lead = st.sidebar.slider("Lead time (h)", min(leads), max(leads), 27 if 27 in leads else leads[-1])
    i = leads.index(lead)
    valid = pd.to_datetime(run, format="%Y%m%d%H") + pd.Timedelta(hours=lead)
    when = f"valid {valid:%Y-%m-%d %H} UTC / {valid + KST:%Y-%m-%d %H} KST"
    st.caption(f"Run {run} UTC, lead {lead} h, {when}. Data: {folder}")
    left, right = st.columns(2)
    left.plotly_chart(_map(nwp[i], lat, lon, "Raw NWP rain (mm/h)", when), width="stretch")
    right.plotly_chart(_map(qpe[i], lat, lon, "Observed QPE (mm/h)", when), width="stretch")


main()

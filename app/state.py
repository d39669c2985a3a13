"""Cached access to data, model and predictions for every page (the app never touches tensors)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app.data_source import DEMO_RUNS, data_dir, demo_missing
from engine.cache import predicted_run
from engine.data.catalog import Catalog
from engine.errors import DataError
from engine.model.weights import DEFAULT_WEIGHTS
from engine.predict import Predictor

KST = pd.Timedelta(hours=9)


@dataclass(frozen=True)
class RunData:
    run: str
    leads: list[int]
    nwp: np.ndarray  # (lead, lat, lon) mm/h
    qpe: np.ndarray  # (lead, lat, lon) mm/h, NaN = invalid
    prob: np.ndarray | None  # (lead, 3, lat, lon) or None without weights
    lat: np.ndarray
    lon: np.ndarray
    mask: np.ndarray

    def valid_time(self, lead: int) -> pd.Timestamp:
        return pd.to_datetime(self.run, format="%Y%m%d%H") + pd.Timedelta(hours=lead)

    def when(self, lead: int) -> str:
        vt = self.valid_time(lead)
        return f"valid {vt:%Y-%m-%d %H} UTC / {vt + KST:%Y-%m-%d %H} KST"


def ensure_data() -> Path:
    folder = data_dir()
    if demo_missing(folder):
        from engine.data.demo import generate

        bar = st.progress(0.0, text=f"First start: generating the demo archive ({DEMO_RUNS} runs) in {folder}")
        generate(folder, runs=DEMO_RUNS, progress=False)
        bar.empty()
    return folder


@st.cache_resource(show_spinner=False)
def catalog(folder: str) -> Catalog:
    return Catalog(Path(folder))


@st.cache_resource(show_spinner="Loading the model...")
def predictor() -> Predictor | None:
    """The shipped model, loaded once per server process and shared by every session."""
    if not DEFAULT_WEIGHTS.exists():
        return None
    return Predictor(DEFAULT_WEIGHTS)


@st.cache_data(show_spinner="Reading the run (GRIB2 + QPE) and post-processing it...", max_entries=8)
def run_data(folder: str, run: str) -> RunData:
    cat = catalog(folder)
    ds = cat.load_run(run)
    leads = [int(h) for h in ds["lead_time"].values.astype("timedelta64[h]").astype(int) if h > 0]
    ds = ds.sel(lead_time=pd.to_timedelta(leads, unit="h"))
    qpe = cat.load_qpe(run, leads).values
    pred = predictor()
    prob = None
    if pred is not None:
        prob = predicted_run(cat, run, pred).sel(lead_time=pd.to_timedelta(leads, unit="h"))["probability"].values
    return RunData(run, leads, ds["tp"].values, qpe, prob, ds["lat"].values, ds["lon"].values, cat.grid.qpe_mask)


def load_or_stop() -> tuple[str, list[str]]:
    """The data folder and its runs, or a clear message in the page (and stop)."""
    try:
        folder = ensure_data()
        return str(folder), catalog(str(folder)).runs()
    except DataError as exc:
        st.error(f"Cannot read the data: {exc}")
        st.stop()
        raise


def get_run(folder: str, run: str) -> RunData:
    try:
        return run_data(folder, run)
    except DataError as exc:
        st.error(f"Cannot read run {run}: {exc}")
        st.stop()
        raise

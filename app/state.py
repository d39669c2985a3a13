"""Cached access to data, model and predictions for every page (the app never touches tensors)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app.data_source import DEMO_RUNS, data_dir, demo_missing
from engine.cache import files_fingerprint, rain_and_prediction, run_fingerprint
from engine.data.base import RunSource
from engine.data.sources import AUTO, detect, open_data, source_names
from engine.errors import DataError
from engine.model.manifest import DEFAULT_WEIGHTS
from engine.places import KST
from engine.prediction import DeferredPredictor


@dataclass(frozen=True)
class RunData:
    run: str
    leads: list[int]
    nwp: np.ndarray  # (lead, lat, lon) mm/h
    qpe: np.ndarray  # (lead, lat, lon) mm/h, NaN = invalid
    prob: np.ndarray | None  # (lead, 3, lat, lon) class probabilities, or None without weights
    p_event: dict[float, np.ndarray] | None  # threshold -> (lead, lat, lon) calibrated P(rain >= threshold)
    lat: np.ndarray
    lon: np.ndarray
    mask: np.ndarray  # (lat, lon) where the observations are scored
    learnt: np.ndarray | None = None  # (lat, lon) where the network learnt from observations, if its manifest says

    def valid_time(self, lead: int) -> pd.Timestamp:
        return pd.to_datetime(self.run, format="%Y%m%d%H") + pd.Timedelta(hours=lead)

    def kst_hour(self, lead: int) -> str:
        """The valid hour of ``lead`` on a Korean clock, short: "07-02 21 KST"."""
        return f"{self.valid_time(lead) + KST:%m-%d %H} KST"

    def valid_utc_kst(self, lead: int) -> str:
        vt = self.valid_time(lead)
        return f"{vt:%Y-%m-%d %H} UTC / {vt + KST:%Y-%m-%d %H} KST"

    def when(self, lead: int) -> str:
        return f"valid {self.valid_utc_kst(lead)}"

    @cached_property
    def observed(self) -> np.ndarray:
        """``qpe`` where the observations are scored (``mask``), NaN elsewhere: what the run is verified against."""
        return np.where(self.mask, self.qpe, np.nan)

    @property
    def learnt_area(self) -> np.ndarray:
        """Where the model's map is not veiled: the manifest's trained area, else where observations are scored."""
        return self.mask if self.learnt is None else self.learnt


def ensure_data() -> Path:
    folder = data_dir()
    if demo_missing(folder):
        from engine.data.demo import generate

        bar = st.progress(0.0, text=f"First start: generating the demo archive ({DEMO_RUNS} runs) in {folder}")
        generate(folder, runs=DEMO_RUNS, progress=False)
        bar.empty()
    return folder


# What the pages pass around: (folder, NWP source, observation source). Only names from engine.data.sources are
# accepted (a query parameter or a hand-edited session cannot point the readers anywhere else).
DataRef = tuple[str, str, str]


@st.cache_resource(show_spinner=False)
def catalog(ref: DataRef) -> RunSource:
    return open_data(Path(ref[0]), ref[1], ref[2])


@st.cache_data(show_spinner=False, ttl=300)
def _detected(folder: str) -> tuple[str, str]:
    """What ``auto`` finds in a folder: opens a GRIB file, so once per folder, not on every slider move."""
    return detect(folder)


def source_selector(folder: Path) -> tuple[str, str]:
    """Sidebar choice of the readers (kept across pages); ``auto`` shows what it detected."""
    for key in ("nwp_source", "qpe_source"):
        if key in st.session_state:  # keep the choice when switching pages
            st.session_state[key] = st.session_state[key]
    with st.sidebar.expander("Data source", expanded=False):
        nwp = st.selectbox(
            "NWP", [AUTO, *source_names("nwp")], key="nwp_source", help="`python -m engine sources` lists them"
        )
        qpe = st.selectbox("Observations", [AUTO, *source_names("qpe")], key="qpe_source")
        try:
            found = _detected(str(folder))
            st.caption(f"Detected: NWP `{found[0]}`, observations `{found[1]}`")
        except DataError:
            pass
        _upload_box()
    return nwp, qpe


def _upload_box() -> None:
    """Score one's own GRIB2 run against the folder's observations; files are checked before any decoding."""
    from engine.cache import cache_dir
    from engine.data.upload import stage_run

    if "upload" in st.session_state:
        st.caption(f"Showing your uploaded run {st.session_state['upload'][1]}")
        if st.button("Back to the data folder", key="upload_clear"):
            del st.session_state["upload"]
            st.rerun()
        return
    with st.form("upload_form", clear_on_submit=True, border=False):
        files = st.file_uploader(
            "Your own run (GRIB2, one file per lead time or one file)",
            type=["grib2", "grb2", "grib"],
            accept_multiple_files=True,
            key="upload_files",
        )
        if not st.form_submit_button("Score this run"):
            return
        if not files:  # also what the form sends while an upload is still in flight
            st.warning("No GRIB2 file received: choose your files, wait until each shows its size, then press again.")
            return
        try:
            folder, run = stage_run([(f.name, f.getvalue()) for f in files], cache_dir() / "uploads", data_dir())
        except DataError as exc:
            st.error(f"Upload refused: {exc}")
            return
        st.session_state["upload"] = (str(folder), run)
        st.rerun()


@st.cache_resource(show_spinner="Checking the model's weights...", max_entries=2)
def _checked_weights(weights: str, stamp: str) -> DeferredPredictor | str:
    """The weights' predictor, or why they are refused; once per state of the files (``stamp`` only keys the
    cache), so weights mended or replaced on disk are taken up and refused ones are not hashed on every rerun."""
    try:
        return DeferredPredictor(weights)
    except DataError as exc:
        return f"The shipped weights are refused ({exc})"


def _shipped() -> DeferredPredictor | str:
    if not DEFAULT_WEIGHTS.exists():
        return f"No shipped weights found ({DEFAULT_WEIGHTS.relative_to(DEFAULT_WEIGHTS.parents[2])})"
    files = [DEFAULT_WEIGHTS, DEFAULT_WEIGHTS.with_suffix(".json")]
    return _checked_weights(str(DEFAULT_WEIGHTS), files_fingerprint(f for f in files if f.exists()))


def weights_problem() -> str | None:
    """Why the pages show no post-processed forecast (the shipped weights are missing, or refused: a sha256 that
    does not match the manifest, a manifest that cannot be read), or None when the model is in use."""
    shipped = _shipped()
    return shipped if isinstance(shipped, str) else None


def predictor() -> DeferredPredictor | None:
    """The shipped model, one per server process and shared by every session, or None (:func:`weights_problem`
    says why). Its network is loaded when a first run must be post-processed: runs in the prediction cache are
    shown without it."""
    shipped = _shipped()
    return None if isinstance(shipped, str) else shipped


def files_state(ref: DataRef, run: str) -> str:
    """What changes when a file of the run arrives or is replaced: the names, sizes and times of its NWP files and
    of the QPE files for its valid times (an hour redone in place included), and the weights in use. A key of every
    cache of what was read, so hours that arrive or are re-estimated after a first look are shown, not the first look
    forever."""
    source = catalog(ref)
    nwp = run_fingerprint(source, run)
    pred = predictor()  # and the model that post-processes it, or none
    model = pred.sha256 if pred is not None else "no model"
    return f"{nwp}:{files_fingerprint(source.qpe_files(run, _lead_times(ref, run, nwp)))}:{model}"


def run_leads(ref: DataRef, runs: list[str]) -> list[int]:
    """The forecast lead times (hours, 0 left out) any of ``runs`` holds, from the file listing: no run is read."""
    source = catalog(ref)
    return sorted({h for run in runs for h in _lead_times(ref, run, run_fingerprint(source, run)) if h > 0})


@st.cache_data(max_entries=1024, show_spinner=False)
def _lead_times(ref: DataRef, run: str, nwp_state: str) -> list[int]:
    """The run's lead times, once per state of its NWP files (``nwp_state`` only keys the cache): a run whose
    files are not named by lead time is opened to find out."""
    return catalog(ref).lead_times(run)


def runs_state(ref: DataRef, runs: list[str]) -> tuple[str, ...]:
    """:func:`files_state` of every run: the key of the pages' caches over all runs."""
    try:
        return tuple(files_state(ref, run) for run in runs)
    except DataError as exc:
        st.error(f"Cannot read the data: {exc}")
        st.stop()
        raise


@st.cache_data(show_spinner="Reading the run (NWP + observations) and post-processing it...", max_entries=8)
def run_data(ref: DataRef, run: str, state: str) -> RunData:
    """One run as the pages show it; ``state`` (:func:`files_state`) only keys the cache."""
    cat = catalog(ref)
    pred = predictor()
    whole, out = rain_and_prediction(cat, run, pred)
    leads = [int(h) for h in whole["lead_time"].values.astype("timedelta64[h]").astype(int) if h > 0]
    ds = whole.sel(lead_time=pd.to_timedelta(leads, unit="h"))
    qpe = cat.load_qpe(run, leads).values
    prob = p_event = learnt = None
    if out is not None:
        out = out.sel(lead_time=pd.to_timedelta(leads, unit="h"))
        prob = out["probability"].values
        p_event = {float(t): out["event_probability"].sel(threshold=t).values for t in out["threshold"].values}
        learnt = out["trained_area"].values.astype(bool) if "trained_area" in out else None
    return RunData(
        run, leads, ds["tp"].values, qpe, prob, p_event, ds["lat"].values, ds["lon"].values, cat.verify_mask, learnt
    )


def model_events(data: RunData, threshold: float) -> np.ndarray | None:
    """The model's calibrated P(rain >= threshold) of a run, or None without weights."""
    return data.p_event[threshold] if data.p_event is not None else None


def tuned_threshold(threshold: float) -> float:
    """The default model probability threshold: tuned on validation runs, in calibrated probability."""
    from engine.calibration import default_probability_threshold

    pred = predictor()
    return default_probability_threshold(pred.manifest, threshold) if pred is not None else 0.5


def tuned_any_hour(threshold: float) -> float:
    """The default model probability threshold for the event at some hour of a run (``tuned_threshold``'s twin)."""
    from engine.calibration import any_hour_probability

    pred = predictor()
    return any_hour_probability(pred.manifest, threshold) if pred is not None else 0.5


def load_or_stop() -> tuple[DataRef, list[str]]:
    """The data (folder and readers) and its runs, or a clear message in the page (and stop)."""
    try:
        folder = ensure_data()
        nwp, qpe = source_selector(folder)
        if "upload" in st.session_state:  # set only by the upload box, from a folder it wrote itself
            folder = Path(st.session_state["upload"][0])
        ref = (str(folder), nwp, qpe)
        return ref, catalog(ref).runs()
    except DataError as exc:
        st.error(f"Cannot read the data: {exc}")
        st.stop()
        raise


def linked_table(table: pd.DataFrame, link_text: str, columns: dict | None = None) -> None:
    """A table whose ``open`` column holds links into the case viewer (shareable URLs), shown as ``link_text``;
    ``columns``: more column settings."""
    st.dataframe(
        table,
        width="stretch",
        hide_index=True,
        placeholder="–",
        column_config={
            "open": st.column_config.LinkColumn("open in viewer", display_text=link_text),
            **(columns or {}),
        },
    )


def get_run(ref: DataRef, run: str) -> RunData:
    try:
        return run_data(ref, run, files_state(ref, run))
    except DataError as exc:
        st.error(f"Cannot read run {run}: {exc}")
        st.stop()
        raise

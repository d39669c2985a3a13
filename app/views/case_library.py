"""Case library: runs ranked by heavy rain in the QPE, by the model's gain over NWP and by its worst misses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app.choices import threshold_slider
from app.state import (
    DataRef,
    get_run,
    linked_table,
    load_or_stop,
    model_events,
    runs_state,
    tuned_threshold,
    weights_problem,
)
from engine.grid import PIXEL_KM2
from engine.places import Place, point, where_is
from engine.verify.case import events
from engine.verify.categorical import categorical_scores, contingency_events


def columns(threshold: float) -> tuple[str, str]:
    """The names of the event-area and missed-area columns, which say the event they count."""
    return f"area >= {threshold:g} mm/h, peak (km²)", "model misses (km² h)"


def _heaviest(qpe: np.ndarray, mask: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[float, Place] | None:
    """The run's heaviest observed hourly rain (mm/h) over the QPE-valid pixels, and its pixel; None unobserved."""
    rain = np.where(mask & np.isfinite(qpe), qpe, -np.inf)
    if not np.isfinite(rain).any():
        return None
    t, iy, ix = np.unravel_index(int(np.argmax(rain)), rain.shape)
    return float(rain[t, iy, ix]), point(float(lat[iy]), float(lon[ix]))


@st.cache_data(show_spinner=False, max_entries=2048)
def run_row(ref: DataRef, run: str, state: str, threshold: float) -> dict:
    """One run's row, kept per run: when a run arrives or a QPE hour is redone, only that run is read again.
    ``state`` (``files_state``) only keys the cache."""
    area, missed = columns(threshold)
    d = get_run(ref, run)
    ev = events(d.nwp, model_events(d, threshold), d.qpe, d.mask, threshold, tuned_threshold(threshold))
    observed = ev["valid"].any(axis=(1, 2))  # lead times with a valid QPE: the others are unknown, not dry
    event_area = np.where(observed, ev["obs"].sum(axis=(1, 2)) * PIXEL_KM2, np.nan)  # per lead
    peak = int(np.nanargmax(event_area)) if observed.any() else None
    heaviest = _heaviest(d.qpe, d.mask, d.lat, d.lon)
    row = {
        "run": run,
        # beside the run, never scrolled off; without any observation, the viewer's own default lead time; its
        # place chart at the heaviest hour's pixel
        "open": f"/?run={run}"
        + (f"&lead={d.leads[peak]}" if peak is not None else "")
        + f"&threshold={threshold:g}"
        + (f"&place={heaviest[1].lat:.2f},{heaviest[1].lon:.2f}" if heaviest else ""),
        "QPE hours": f"{int(observed.sum())}/{len(d.leads)}",  # near the run: how complete its scores are
        area: float(event_area[peak]) if peak is not None else np.nan,
        "peak lead (h)": d.leads[peak] if peak is not None else None,
        "peak valid time": d.valid_utc_kst(d.leads[peak]) if peak is not None else "no QPE",
        "heaviest QPE (mm/h)": heaviest[0] if heaviest else np.nan,
        "heaviest at": where_is(heaviest[1]) if heaviest else None,
        "NWP CSI": categorical_scores(contingency_events(ev["nwp"], ev["obs"], ev["valid"]))["csi"],
    }
    if "model" in ev:
        t = contingency_events(ev["model"], ev["obs"], ev["valid"])
        row["model CSI"] = categorical_scores(t)["csi"]
        row["model gain"] = row["model CSI"] - row["NWP CSI"]
        row[missed] = float(t["misses"]) * PIXEL_KM2 if peak is not None else np.nan
    return row


@st.cache_data(show_spinner=False, max_entries=8)
def library(ref: DataRef, runs: tuple[str, ...], state: tuple[str, ...], threshold: float) -> pd.DataFrame:
    """One row per run; ``state`` (``runs_state``) keys the cache."""
    area, missed = columns(threshold)
    rows = []
    bar = st.progress(0.0, text=f"Ranking {len(runs)} runs...")
    for k, (run, run_state) in enumerate(zip(runs, state, strict=True)):
        bar.progress(k / len(runs), text=f"Ranking run {run} ({k + 1} of {len(runs)})")
        rows.append(run_row(ref, run, run_state, threshold))
    bar.empty()
    table = pd.DataFrame(rows)
    # what the table ranks by comes first: on a laptop screen the columns after these scroll
    first = [c for c in ("run", "open", "QPE hours", area, "NWP CSI", "model CSI", "model gain", missed) if c in table]
    return table[first + [c for c in table.columns if c not in first]]


def main() -> None:
    ref, runs = load_or_stop()
    st.title("Case library")
    threshold = threshold_slider()
    table = library(ref, tuple(runs), runs_state(ref, runs), threshold)
    area, missed = columns(threshold)
    order = st.radio(
        "Rank by", ["event area", "model gain over NWP", "worst model misses"], horizontal=True, key="rank_by"
    )
    key = {"event area": area, "model gain over NWP": "model gain", "worst model misses": missed}[order]
    if key not in table:
        st.info(f"{weights_problem()}: the model columns need the post-processed forecast; ranking by event area.")
        key = area
    table = table.sort_values(key, ascending=False, na_position="last").reset_index(drop=True)
    linked_table(
        table,
        "open case",
        {
            "NWP CSI": st.column_config.NumberColumn(format="%.3f"),
            "model CSI": st.column_config.NumberColumn(format="%.3f"),
            "heaviest QPE (mm/h)": st.column_config.NumberColumn(
                help="The run's heaviest observed hour at one 5 km pixel; the link charts that pixel", format="%.1f"
            ),
            "model gain": st.column_config.NumberColumn(help="model CSI - NWP CSI over the run", format="%+.3f"),
            missed: st.column_config.NumberColumn(
                help="Observed rain at or above the threshold that the model did not forecast: missed 5 km pixels "
                "(25 km² each) summed over the run's lead times",
                format="%d",
            ),
        },
    )
    st.caption(
        "Model scores at the probability threshold tuned on validation runs. Each link opens the case viewer at the "
        "run's peak lead time for the event, with the rain through the run at the heaviest hour's pixel (named from "
        "the nearest city); the URL can be shared. QPE hours: the lead times with a valid "
        "observation; the others are left out of every column (– where a run has none)."
    )


main()

"""Case library: runs ranked by heavy rain in the QPE, by the model's gain over NWP and by its worst misses."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import pandas as pd
import streamlit as st

from app.state import DataRef, get_run, load_or_stop, model_events, tuned_threshold
from engine.verify.case import events
from engine.verify.categorical import categorical_scores, contingency_events

st.set_page_config(page_title="Case library", page_icon="🗂️", layout="wide")


@st.cache_data(show_spinner="Ranking runs...", max_entries=8)
def library(ref: DataRef, runs: tuple[str, ...], threshold: float) -> pd.DataFrame:
    rows = []
    for run in runs:
        d = get_run(ref, run)
        ev = events(d.nwp, model_events(d, threshold), d.qpe, d.mask, threshold, tuned_threshold(threshold))
        heavy_area = ev["obs"].sum(axis=(1, 2)) * 25.0  # km^2 per lead (5 km pixels)
        peak = int(np.argmax(heavy_area))
        row = {
            "run": run,
            "heavy-rain area, peak (km²)": float(heavy_area[peak]),
            "peak lead (h)": d.leads[peak],
            "peak valid time": d.valid_utc_kst(d.leads[peak]),
            "NWP CSI": categorical_scores(contingency_events(ev["nwp"], ev["obs"], ev["valid"]))["csi"],
        }
        if "model" in ev:
            t = contingency_events(ev["model"], ev["obs"], ev["valid"])
            row["model CSI"] = categorical_scores(t)["csi"]
            row["model gain"] = row["model CSI"] - row["NWP CSI"]
            row["model misses (px)"] = int(t["misses"])
        row["open"] = f"/?run={run}&lead={d.leads[peak]}&threshold={threshold:g}"
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    ref, runs = load_or_stop()
    st.title("Case library")
    threshold = st.sidebar.select_slider("Event threshold (mm/h)", options=[0.1, 10.0], value=10.0)
    table = library(ref, tuple(runs), threshold)
    order = st.radio("Rank by", ["heavy-rain area", "model gain over NWP", "worst model misses"], horizontal=True)
    key = {
        "heavy-rain area": "heavy-rain area, peak (km²)",
        "model gain over NWP": "model gain",
        "worst model misses": "model misses (px)",
    }[order]
    if key not in table:
        st.info("Model columns need the shipped weights; ranking by heavy-rain area.")
        key = "heavy-rain area, peak (km²)"
    table = table.sort_values(key, ascending=False, na_position="last").reset_index(drop=True)
    st.dataframe(
        table,
        width="stretch",
        hide_index=True,
        placeholder="–",
        column_config={"open": st.column_config.LinkColumn("open in viewer", display_text="open case")},
    )
    st.caption(
        "Model scores at the probability threshold tuned on validation runs. Each link opens the case viewer at the "
        "run's peak heavy-rain lead time; the URL can be shared."
    )


main()

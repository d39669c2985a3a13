"""Heavy rain over a run: where observed QPE and raw NWP reached KMA's heavy-rain advisory and warning criteria
(the largest 3 h and 12 h sums at each pixel), and where the NWP's advisory area met the observed one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from app import maps
from app.layout import chart_slots
from app.state import DataRef, RunData, files_state, get_run
from engine.grid import PIXEL_KM2
from engine.heavy_rain import (
    CRITERIA,
    KMA_LEVELS,
    LEVELS,
    WINDOWS,
    first_reached,
    level_codes,
    max_accumulation_map,
    window_sums,
)
from engine.verify.categorical import categorical_scores, contingency_events

SOURCES = {"qpe": "Observed QPE", "nwp": "Raw NWP"}


Levels = tuple[np.ndarray, dict[int, np.ndarray], dict[str, np.ndarray]]


@st.cache_data(max_entries=16, show_spinner=False)
def run_levels(ref: DataRef, run: str, state: str) -> dict[str, Levels]:
    """Per source ("qpe", "nwp"): the KMA level code at each pixel, the largest sums by window (hours -> mm) and,
    by level name, the lead time (h) at which each pixel first reached it (NaN where it never did); once per run and
    state of its files (``state`` only keys the cache), not on every move of the lead time."""
    data = get_run(ref, run)
    out = {}
    for src, rain in (("qpe", data.observed), ("nwp", data.nwp)):
        windows = {h: window_sums(data.leads, rain, h) for h in WINDOWS}  # each window's sums once, not thrice
        sums = {h: max_accumulation_map(data.leads, rain, h, windows) for h in WINDOWS}
        onsets = {name: first_reached(data.leads, rain, criteria, windows) for name, criteria in KMA_LEVELS}
        out[src] = (level_codes(sums), sums, onsets)
    return out


def when(lead: float, data: RunData) -> str | None:
    """A lead time as the forecaster reads it: "+12 h, 07-02 21 KST" (None for NaN: never)."""
    if not np.isfinite(lead):
        return None
    return f"+{int(lead)} h, {data.kst_hour(int(lead))}"


def onset_notes(code: np.ndarray, onsets: dict[str, np.ndarray], data: RunData) -> np.ndarray:
    """Each pixel's hover lines saying when it reached each level up to its own, in lead time and KST ("" where
    none): a warning pixel tells both, so the hours between advisory and warning can be read."""
    notes = np.full(code.shape, "", dtype=object)
    for level in (1, 2):
        onset = onsets[LEVELS[level]]
        reached = code >= level
        for lead in np.unique(onset[reached & np.isfinite(onset)]):
            notes[reached & (onset == lead)] += f"<b>{LEVELS[level]}</b> reached at {when(lead, data)}<br>"
    return notes


def level_areas(levels: Levels, scored: np.ndarray, data: RunData) -> dict[str, float | str | None]:
    """km² of the ``scored`` area at advisory or above and at warning, and when each level was first reached
    anywhere in it."""
    code, _, onsets = levels
    return {
        "advisory or above (km²)": float((code[scored] >= 1).sum() * PIXEL_KM2),
        "warning (km²)": float((code[scored] == 2).sum() * PIXEL_KM2),
        **{f"{name} first reached": when(np.nanmin(onsets[name][scored], initial=np.inf), data) for name in LEVELS[1:]},
    }


def heavy_rain_section(ref: DataRef, data: RunData, marked: Callable[..., dict]) -> pd.DataFrame:
    """Maps of the KMA level reached over the run by the observations and by the raw NWP, and the NWP's
    advisory-or-above area against the observed one; returns the areas and scores shown under them."""
    st.subheader("Heavy rain over the run")
    levels = run_levels(ref, data.run, files_state(ref, data.run))
    span = f"lead times {data.leads[0]}-{data.leads[-1]} h"
    columns = chart_slots(3, "maps-heavy-rain")
    for column, (src, name) in zip(columns[:2], SOURCES.items(), strict=True):
        code, sums, onsets = levels[src]
        title = f"{name}: KMA level reached<br>{span}"  # two lines: one was cut off in a 300 px slot
        fig = maps.level_map(code, sums, data.lat, data.lon, title, onset_notes(code, onsets, data))
        column.plotly_chart(**marked(fig, f"levels_{src}"))
    observed, forecast = levels["qpe"][0], levels["nwp"][0]
    valid = (observed >= 0) & (forecast >= 0) & data.mask  # both levels known: compared like for like
    columns[2].plotly_chart(
        maps.contingency_map(
            forecast >= 1,
            observed >= 1,
            valid,
            data.lat,
            data.lon,
            "Raw NWP vs observed: advisory or above",
            height=430,  # as tall as the level maps beside it
        ),
        width="stretch",
    )
    table = contingency_events(forecast >= 1, observed >= 1, valid)
    scores = categorical_scores(table)
    rows = {name: level_areas(levels[src], valid, data) for src, name in SOURCES.items()}
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.loc["Raw NWP", "CSI, advisory or above"] = float(scores["csi"])
    summary.loc["Raw NWP", "bias, advisory or above"] = float(scores["bias"])
    st.dataframe(summary, width="stretch", placeholder="–", column_config=_formats(summary))
    h, m, f = (int(table[k]) for k in ("hits", "misses", "false_alarms"))
    st.caption(
        f"The largest sums over 3 and 12 consecutive hours of the run ({span}) at each 5 km pixel ({CRITERIA}); an "
        "hour without QPE breaks a window, and grey is where no window was wholly observed. Areas and scores count "
        f"where both levels are known ({valid.sum() * PIXEL_KM2:,.0f} km²): {h} hits, {m} misses, {f} false alarms "
        '(pixels); "first reached" is the earliest hour a window there ended at the level\'s amount, and a '
        "pixel's hover says when it reached each level. The network forecasts rain classes, not "
        "amounts: it has no map here. A click on a city charts its hours below."
    )
    return summary


def _formats(summary: pd.DataFrame) -> dict:
    return {
        c: st.column_config.NumberColumn(format="%.0f" if c.endswith("(km²)") else "%.3f")
        for c in summary.columns
        if not c.endswith("first reached")
    }

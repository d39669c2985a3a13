"""Heavy rain over a run: where observed QPE and raw NWP reached KMA's heavy-rain advisory and warning criteria
(the largest 3 h and 12 h sums at each pixel), and where the NWP's advisory area met the observed one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from app import maps
from app.state import KST, DataRef, RunData, files_state, get_run
from engine.grid import PIXEL_KM2
from engine.heavy_rain import CRITERIA, KMA_LEVELS, LEVELS, WINDOWS, first_reached, level_codes, max_accumulation_map
from engine.verify.categorical import categorical_scores, contingency_events

SOURCES = {"qpe": "Observed QPE", "nwp": "Raw NWP"}


@st.cache_data(max_entries=16, show_spinner=False)
def run_levels(ref: DataRef, run: str, state: str) -> dict[str, tuple[np.ndarray, dict[int, np.ndarray], np.ndarray]]:
    """Per source ("qpe", "nwp"): the KMA level code at each pixel, the largest sums by window (hours -> mm) and
    the lead time (h) the pixel's level was first reached (NaN where none or unknown); once per run and state of
    its files (``state`` only keys the cache), not on every move of the lead time."""
    data = get_run(ref, run)
    out = {}
    for src, rain in (("qpe", data.observed), ("nwp", data.nwp)):
        sums = {h: max_accumulation_map(data.leads, rain, h) for h in WINDOWS}
        code = level_codes(sums)
        onset = np.full(code.shape, np.nan)
        for name, criteria in KMA_LEVELS:
            at_level = code == LEVELS.index(name)
            onset[at_level] = first_reached(data.leads, rain, criteria)[at_level]
        out[src] = (code, sums, onset)
    return out


def onset_notes(code: np.ndarray, onset: np.ndarray, data: RunData) -> np.ndarray:
    """Each pixel's hover line saying when its level was reached, in lead time and KST ("" where none)."""
    notes = np.full(code.shape, "", dtype=object)
    for lead in np.unique(onset[np.isfinite(onset)]).astype(int):
        kst = data.valid_time(lead) + KST
        for level in (1, 2):
            where = (onset == lead) & (code == level)
            notes[where] = f"<b>{LEVELS[level]}</b> reached at +{lead} h, {kst:%m-%d %H} KST<br>"
    return notes


def level_areas(code: np.ndarray, scored: np.ndarray) -> dict[str, float]:
    """km² of the ``scored`` area at advisory or above and at warning."""
    return {
        "advisory or above (km²)": float((code[scored] >= 1).sum() * PIXEL_KM2),
        "warning (km²)": float((code[scored] == 2).sum() * PIXEL_KM2),
    }


def heavy_rain_section(ref: DataRef, data: RunData, marked: Callable[..., dict]) -> pd.DataFrame:
    """Maps of the KMA level reached over the run by the observations and by the raw NWP, and the NWP's
    advisory-or-above area against the observed one; returns the areas and scores shown under them."""
    st.subheader("Heavy rain over the run")
    levels = run_levels(ref, data.run, files_state(ref, data.run))
    span = f"lead times {data.leads[0]}-{data.leads[-1]} h"
    columns = st.columns(3)
    for column, (src, name) in zip(columns[:2], SOURCES.items(), strict=True):
        code, sums, onset = levels[src]
        title = f"{name}: KMA level reached, {span}"
        fig = maps.level_map(code, sums, data.lat, data.lon, title, onset_notes(code, onset, data))
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
    rows = {name: level_areas(levels[src][0], valid) for src, name in SOURCES.items()}
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.loc["Raw NWP", "CSI, advisory or above"] = float(scores["csi"])
    summary.loc["Raw NWP", "bias, advisory or above"] = float(scores["bias"])
    st.dataframe(summary, width="stretch", placeholder="–", column_config=_formats(summary))
    h, m, f = (int(table[k]) for k in ("hits", "misses", "false_alarms"))
    st.caption(
        f"The largest sums over 3 and 12 consecutive hours of the run ({span}) at each 5 km pixel ({CRITERIA}); an "
        "hour without QPE breaks a window, and grey is where no window was wholly observed. Areas and scores count "
        f"where both levels are known ({valid.sum() * PIXEL_KM2:,.0f} km²): {h} hits, {m} misses, {f} false alarms "
        "(pixels). The hover says when a pixel's level was first reached. The network forecasts rain classes, not "
        "amounts: it has no map here. A click on a city charts its hours below."
    )
    return summary


def _formats(summary: pd.DataFrame) -> dict:
    return {c: st.column_config.NumberColumn(format="%.0f" if c.endswith("(km²)") else "%.3f") for c in summary.columns}

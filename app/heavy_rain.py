"""Heavy rain over a run: where observed QPE and raw NWP reached KMA's heavy-rain advisory and warning criteria
(the largest 3 h and 12 h sums at each pixel), where the NWP's advisory area met the observed one, and each
pixel's wettest hour beside the model's highest probability of the event."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from app import maps
from app.choices import any_hour_slider
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
    peak_hour,
    window_sums,
)
from engine.places import KST
from engine.verify.categorical import any_hour_table, categorical_scores, contingency_events

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


# Each pixel's largest value over the run, and when it first came: (lead time h, month, day, hour KST) in the last
# axis, small integers (0 where never known), for the hover: a string a pixel was most of a map's cost (level_map).
Peak = tuple[np.ndarray, np.ndarray]
PEAK_AT = "at +%{customdata[0]} h, %{customdata[1]:02d}-%{customdata[2]:02d} %{customdata[3]:02d} KST (first hour)"


@st.cache_data(max_entries=16, show_spinner=False)
def run_peaks(ref: DataRef, run: str, state: str) -> dict[str | float, Peak]:
    """Each pixel's wettest hour by the raw NWP ("nwp") and the QPE ("qpe"), and the model's highest P(rain >=
    threshold) by event threshold (0.1, 10.0); NaN where never known. Once per run and state of its files, as
    :func:`run_levels`."""
    data = get_run(ref, run)
    kst = [data.valid_time(lead) + KST for lead in data.leads]
    clock = [(lead, t.month, t.day, t.hour) for lead, t in zip(data.leads, kst, strict=True)]
    table = np.array([*clock, (0, 0, 0, 0)], dtype=np.uint8 if max(data.leads) < 256 else np.uint16)  # [-1]: never
    out: dict[str | float, Peak] = {}
    for key, values in (("nwp", data.nwp), ("qpe", data.qpe), *(data.p_event or {}).items()):
        peak, first = peak_hour(values)
        out[key] = (peak, table[first])
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
        "amounts: its map is under *Wettest hour of the run*. A click on a city charts its hours below."
    )
    return summary


def wettest_hour_section(ref: DataRef, data: RunData, threshold: float, marked: Callable[..., dict]) -> None:
    """At each pixel, the run's wettest hour by the raw NWP and by the observations, and between them the model's
    highest probability of the event at any hour: where the run may bring the event, read at a glance."""
    st.subheader("Wettest hour of the run")
    peaks = run_peaks(ref, data.run, files_state(ref, data.run))
    columns = chart_slots(3, "maps-wettest-hour")
    for column, src, name in ((columns[0], "nwp", "Raw NWP"), (columns[2], "qpe", "Observed QPE")):
        peak, came = peaks[src]
        fig = maps.rain_map(peak, data.lat, data.lon, f"{name}: wettest hour (mm/h)", PEAK_AT, came)
        column.plotly_chart(**marked(fig, f"peak_{src}"))
    forecasts = {"Raw NWP": (data.nwp, threshold)}
    if threshold in peaks:
        peak, came = peaks[threshold]
        at = any_hour_slider(threshold)  # drawn under the maps, above the table it sets
        title = f"Post-processed: highest P(rain >= {threshold:g} mm/h)"
        fig = maps.probability_map(peak, data.lat, data.lon, title, PEAK_AT, data.learnt_area, came)
        with np.errstate(invalid="ignore"):
            reached = peak >= at
        if data.learnt_area is not None:  # not the untrained extrapolation the map greys out
            reached &= data.learnt_area
        fig.add_trace(maps.outline(reached, data.lat, data.lon, f"P >= {at:.2f} at some hour"))
        fig.layout.legend = {"x": 0.01, "y": 0.01, "yanchor": "bottom", "bgcolor": "rgba(255,255,255,0.75)"}
        columns[1].plotly_chart(**marked(fig, "peak_model"))
        forecasts["Post-processed"] = (data.p_event[threshold], at)
    tables = {name: any_hour_table(f, data.qpe, threshold, data.mask, at) for name, (f, at) in forecasts.items()}
    table = any_hour_summary(tables)
    scored = sum(next(iter(tables.values())).values())
    st.dataframe(table, width="stretch", placeholder="–", column_config=_formats(table))
    st.caption(
        f"At each 5 km pixel, the largest hourly rain over the run (lead times {data.leads[0]}-{data.leads[-1]} h) "
        "by the raw NWP and by the observed QPE (grey: never observed), and the model's highest calibrated "
        f"probability of rain >= {threshold:g} mm/h at any hour (grey: where it learnt from no observation), outlined "
        "where it reaches the any-hour threshold below and it learnt. The "
        "hover names the hour it first came at, by lead time and valid time (KST). The table scores the event at "
        f"any hour of the run: rain >= {threshold:g} mm/h in some observed hour, for the model its P at or above "
        "the threshold above, a hit wherever both had it, whichever hours; over the scored pixels with an observed "
        f"hour ({scored * PIXEL_KM2:,.0f} km²)."
    )


def any_hour_summary(tables: dict[str, dict[str, int]]) -> pd.DataFrame:
    """The event at some hour of the run, from each forecast's table against the QPE (the same scored pixels): the
    observed area, each forecast's area, the area both had (hits) and its CSI and bias."""
    first = next(iter(tables.values()))
    observed = (first["hits"] + first["misses"]) * PIXEL_KM2
    rows: dict[str, dict] = {"Observed QPE": {"area with the event (km²)": observed}}
    for name, counts in tables.items():
        scores = categorical_scores(counts)
        rows[name] = {
            "area with the event (km²)": (counts["hits"] + counts["false_alarms"]) * PIXEL_KM2,
            "hits (km²)": counts["hits"] * PIXEL_KM2,
            "CSI": float(scores["csi"]),
            "bias": float(scores["bias"]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _formats(summary: pd.DataFrame) -> dict:
    return {
        c: st.column_config.NumberColumn(format="%.0f" if c.endswith("(km²)") else "%.3f")
        for c in summary.columns
        if not c.endswith("first reached")
    }

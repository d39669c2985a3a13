"""Rain at a place: one city's (or a typed point's) grid cell through a run (raw NWP, observed QPE, the model's
probability), the case viewer's view of a single place, and the place kept chosen across runs and links
(``?place=``)."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import streamlit as st

from app import maps
from app.layout import side_and_chart
from app.state import DataRef, RunData, files_state, get_run
from engine.errors import DataError
from engine.heavy_rain import CRITERIA, place_sums
from engine.places import BOX_KM, box_series, find_place, hours_at, nearest_cell, places_on, probability_column

DEFAULT_PLACE = "Seoul"


def place_table(data: RunData, cell: tuple[int, int]) -> pd.DataFrame:
    """One grid cell's hours of the run: what the place chart draws and the CSV export holds."""
    init = pd.to_datetime(data.run, format="%Y%m%d%H")
    return hours_at(cell, init, data.leads, data.nwp, data.qpe, data.p_event)


def places(data: RunData) -> dict:
    """The cities on the run's grid, and the point typed or linked (``lat, lon``) where it lies on the grid; the
    chosen one kept valid (a link or another grid may name one it lacks: said, and the default shown)."""
    here = places_on(data.lat, data.lon)
    for key in ("place", "point", "_place_before"):  # chosen, typed, shown before a bad point was typed
        text = st.session_state.get(key)
        if not text or text in here:
            continue
        try:
            place = find_place(text)
            cell = nearest_cell(data.lat, data.lon, place)
            if cell is None:
                raise DataError(f"{place.label} lies outside this run's grid.")
        except DataError as err:
            if key != "_place_before":
                st.session_state["place_error"] = str(err)
            continue
        here[place.name] = (place, cell)
        if key == "place":
            st.session_state["place"] = place.name  # as the list names it ("35.18N 129.07E")
    if here and st.session_state.get("place") not in here:
        before = st.session_state.get("_place_before")  # what was shown before a point off the grid was typed
        st.session_state["place"] = next((p for p in (before, DEFAULT_PLACE) if p in here), next(iter(here)))
    return here


def _typed_point() -> None:
    """The point box changed: chart that point (:func:`places` says why where it cannot)."""
    text = st.session_state.get("point", "").strip()
    if text:
        with contextlib.suppress(DataError):  # the box keeps the text; places() says what is wrong with it
            st.session_state["_place_before"] = st.session_state.get("place")
            st.session_state["place"] = find_place(text).name


def pick_place(key: str) -> None:
    """A click on a city of the map ``key`` (its selection callback, run before the page): chart that city."""
    picked = [
        p["customdata"] for p in st.session_state[key]["selection"]["points"] if isinstance(p.get("customdata"), str)
    ]
    if picked:
        st.session_state["place"] = picked[-1]


@st.cache_data(max_entries=64, show_spinner="Reading the earlier run...")
def earlier_run_at(ref: DataRef, run: str, state: str, cell: tuple[int, int], threshold: float) -> dict:
    """An earlier run's raw NWP and model P(rain >= threshold) in one cell, by valid time: small, so a lead-time
    move does not read the run again. ``state`` (``files_state``) only keys the cache."""
    d = get_run(ref, run)
    iy, ix = cell
    return {
        "valid": [d.valid_time(lead) for lead in d.leads],
        "nwp": d.nwp[:, iy, ix].copy(),
        "p": None if d.p_event is None else d.p_event[threshold][:, iy, ix].copy(),
    }


def aligned(earlier: dict, data: RunData) -> dict:
    """``earlier`` (:func:`earlier_run_at`) at ``data``'s valid times: NaN at the hours it does not forecast."""
    at = {t: j for j, t in enumerate(earlier["valid"])}
    idx = np.array([at.get(data.valid_time(lead), -1) for lead in data.leads])

    def pick(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else np.where(idx >= 0, np.asarray(values, dtype=float)[idx], np.nan)

    return {"nwp": pick(earlier["nwp"]), "p": pick(earlier["p"])}


def place_section(
    data: RunData,
    here: dict,
    lead: int,
    threshold: float,
    p_threshold: float,
    earlier: tuple[DataRef, str] | None = None,
) -> pd.DataFrame | None:
    """Rain at a chosen city through the run: the forecaster's view of one place; returns its table for export.
    ``earlier``: the data and the run before this one, whose forecasts of the same hours the chart can add."""
    st.subheader("Rain at a place")
    if not here:
        st.caption("None of the listed cities lies on this data's grid.")
        return None
    left, right = side_and_chart("place-row")
    name = left.selectbox(
        "Place", list(here), key="place", help="KMA ASOS stations of Korea's cities, and the point below"
    )
    left.text_input(
        "Or a point (lat, lon)",
        key="point",
        placeholder="35.18, 129.07",
        on_change=_typed_point,
        help="Degrees north and east, e.g. 35.18, 129.07 or 35.18N 129.07E: the chart shows the grid cell holding it",
    )
    error = st.session_state.pop("place_error", None)
    if error:
        left.error(error)
    place, (iy, ix) = here[name]
    table = place_table(data, (iy, ix))
    previous = None
    if left.toggle(
        "Earlier run too",
        key="place_earlier",
        help="The run before this one: its raw NWP and model P for the same valid times, dashed. Does the signal "
        "hold from run to run?",
    ):
        if earlier is None:
            left.caption("No earlier run in the data folder.")
        else:
            ref, run = earlier
            series = earlier_run_at(ref, run, files_state(ref, run), (iy, ix), threshold)
            previous = {"run": run, **aligned(series, data)}
            if not np.isfinite(previous["nwp"]).any():
                left.caption(f"Run {run} forecasts none of these hours.")
    left.caption(
        f"{place.label}: the 5 km grid cell at {data.lat[iy]:.2f}°N {data.lon[ix]:.2f}°E. Bars: observed rain; "
        f"grey line: raw NWP; dashed: {threshold:g} mm/h"
        + (
            f"; purple: the model's calibrated P(>= {threshold:g} mm/h), dotted at its threshold {p_threshold:.2f}"
            if data.p_event is not None
            else ""
        )
        + "; orange: the lead time shown above. The maps ring it; a click on a city's dot on a map charts that city."
    )
    if not data.mask[iy, ix]:
        left.warning("No valid observations in this cell (outside the QPE coverage): the bars are missing.")
    elif data.p_event is not None and not data.learnt_area[iy, ix]:
        left.warning("The network learnt from no observation in this cell: its probability is an extrapolation.")
    p_column = probability_column(threshold)
    p = table[p_column].to_numpy() if p_column in table else None
    valid = [data.valid_utc_kst(lt) for lt in data.leads]
    right.plotly_chart(
        maps.place_series(
            data.leads,
            valid,
            table["raw NWP (mm/h)"].to_numpy(),
            table["observed QPE (mm/h)"].to_numpy(),
            p,
            threshold,
            p_threshold,
            lead,
            f"{name}, run {data.run} UTC",
            clock=[data.kst_hour(lt) for lt in data.leads],
            previous=previous,
        ),
        width="stretch",
    )
    area = box_series((iy, ix), {"observed QPE": data.observed, "raw NWP": data.nwp})
    sums = place_sums(table, area)
    mm = {c: st.column_config.NumberColumn(format="%.1f") for c in sums.columns if c.endswith("(mm)")}
    right.dataframe(sums, width="stretch", placeholder="–", column_config=mm)
    right.caption(
        f"Largest sums over 3 and 12 consecutive hours of the run (an hour without QPE breaks a window) in the "
        f"place's cell, and at any one cell of the {BOX_KM} km box around it (about a county: warnings are issued "
        f"by district). {CRITERIA}. The network forecasts rain classes, not amounts: it has no row here."
    )
    return table

"""Rain at a place: one city's grid cell through a run (raw NWP, observed QPE, the model's probability), the
case viewer's view of a single place, and the city kept chosen across runs and links (``?place=``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import maps
from app.state import KST, RunData
from engine.places import hours_at, places_on, probability_column

DEFAULT_PLACE = "Seoul"


def place_table(data: RunData, cell: tuple[int, int]) -> pd.DataFrame:
    """One grid cell's hours of the run: what the place chart draws and the CSV export holds."""
    init = pd.to_datetime(data.run, format="%Y%m%d%H")
    return hours_at(cell, init, data.leads, data.nwp, data.qpe, data.p_event)


def places(data: RunData) -> dict:
    """The cities on the run's grid; the chosen one kept valid (a link or another grid may name one it lacks)."""
    here = places_on(data.lat, data.lon)
    if here and st.session_state.get("place") not in here:
        st.session_state["place"] = DEFAULT_PLACE if DEFAULT_PLACE in here else next(iter(here))
    return here


def pick_place(key: str) -> None:
    """A click on a city of the map ``key`` (its selection callback, run before the page): chart that city."""
    picked = [
        p["customdata"] for p in st.session_state[key]["selection"]["points"] if isinstance(p.get("customdata"), str)
    ]
    if picked:
        st.session_state["place"] = picked[-1]


def place_section(data: RunData, here: dict, lead: int, threshold: float, p_threshold: float) -> pd.DataFrame | None:
    """Rain at a chosen city through the run: the forecaster's view of one place; returns its table for export."""
    st.subheader("Rain at a place")
    if not here:
        st.caption("None of the listed cities lies on this data's grid.")
        return None
    left, right = st.columns([1, 3])
    name = left.selectbox("Place", list(here), key="place", help="KMA ASOS stations of Korea's cities")
    place, (iy, ix) = here[name]
    table = place_table(data, (iy, ix))
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
            clock=[f"{data.valid_time(lt) + KST:%m-%d %H} KST" for lt in data.leads],
        ),
        width="stretch",
    )
    return table

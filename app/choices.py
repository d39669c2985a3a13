"""The sidebar's choices that hold across pages: a forecaster who looks up the verification and comes back finds the
case viewer on the run, lead time, place and thresholds they left, and every page that has an event threshold shows
the one chosen last."""

from __future__ import annotations

import streamlit as st

from app.state import tuned_any_hour, tuned_threshold
from engine.verify.case import MODEL_THRESHOLDS

DEFAULT_THRESHOLD = 10.0

# Widget keys whose values outlive a page that does not draw them. Streamlit forgets a widget's value after a run
# that does not draw it; writing a key back before any page runs makes it a value set by the app, which stays.
KEPT = ("run", "lead", "threshold", "fss", "model_view", "place", "point", "place_earlier", "lead_window", "rank_by")


# The case viewer's Play (on or off): not a widget's value, which Streamlit would forget on its own, so it is ended
# here when the forecaster opens another page; back on the viewer, the maps stand still until Play is pressed.
PLAYING = "_playing"


def stop_play_elsewhere(page: st.Page) -> None:
    """End Play unless ``page`` (the one about to run) is the case viewer (the default page: no address)."""
    if page.url_path:
        st.session_state.pop(PLAYING, None)


def probability_key(threshold: float) -> str:
    """The key of the model probability threshold chosen for the event ``threshold`` (one per event)."""
    return f"p_threshold_{threshold:g}"


def any_hour_key(threshold: float) -> str:
    """The key of the model probability threshold chosen for the event ``threshold`` at any hour of a run."""
    return f"p_any_hour_{threshold:g}"


def keep() -> None:
    """Keep every choice made so far while the coming page runs (called by the router before each page)."""
    for key in (*KEPT, *map(probability_key, MODEL_THRESHOLDS), *map(any_hour_key, MODEL_THRESHOLDS)):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def threshold_slider() -> float:
    """The event threshold (mm/h), shared by the pages: 10 mm/h until the forecaster picks another."""
    if st.session_state.get("threshold") not in MODEL_THRESHOLDS:
        st.session_state["threshold"] = DEFAULT_THRESHOLD
    return st.sidebar.select_slider("Event threshold (mm/h)", options=list(MODEL_THRESHOLDS), key="threshold")


def probability_slider(threshold: float, help: str) -> float:
    """The model's probability threshold for the event ``threshold``: the one tuned on validation runs until the
    forecaster moves it, then theirs, on every page, for that event only."""
    key = probability_key(threshold)
    if key not in st.session_state:
        st.session_state[key] = tuned_threshold(threshold)
    return _probability(st.sidebar, "Model probability threshold", key, help)


def _probability(where, label: str, key: str, help: str, **options) -> float:
    """A probability threshold slider (0.01-0.99 in 0.01 steps) whose value the caller has set in ``key``."""
    return where.slider(label, 0.01, 0.99, step=0.01, key=key, help=help, **options)


def any_hour_slider(threshold: float, where=st) -> float:
    """The model's probability threshold for the event ``threshold`` at some hour of a run (the wettest-hour
    table, the verification's "any hour" columns): the one tuned on validation runs for it until the forecaster
    moves it, then theirs, on every page, for that event only."""
    key = any_hour_key(threshold)
    if key not in st.session_state:
        st.session_state[key] = tuned_any_hour(threshold)
    return _probability(
        where,
        "Model probability threshold, any hour",
        key,
        "The model has the event at some hour of the run where its highest P over the run reaches this. The "
        "default was tuned on validation runs for that event: lower than the hourly one, which covers too little "
        "of a run's heavy rain (the model card has both).",
        **({"width": 420} if where is st else {}),
    )

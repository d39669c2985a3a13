"""Case viewer: raw NWP, post-processed forecast and QPE for a run and lead time, with what-if scores."""

from __future__ import annotations

import re
import time
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from app import maps
from app.choices import PLAYING, probability_slider, threshold_slider
from app.heavy_rain import heavy_rain_section, wettest_hour_section
from app.layout import chart_slots
from app.place import DEFAULT_PLACE, pick_place, place_section, places
from app.state import (
    DataRef,
    RunData,
    files_state,
    get_run,
    load_or_stop,
    model_events,
    tuned_threshold,
    weights_problem,
)
from engine.verify.case import MODEL_THRESHOLDS, case_scores, events, forecast_class

# The scores table shows its seven columns whole from this width on; narrower, it goes under the chart beside it.
SCORES_MIN_WIDTH_PX = 460
SCORE_LABELS = {"csi": "CSI", "pod": "POD", "far": "FAR", "bias": "bias", "ets": "ETS", "f1": "F1", "fss": "FSS"}


def _init_from_query(runs: list[str]) -> None:
    """On the viewer's first run in a session, take run / lead / threshold / place from the URL (shareable links);
    what the URL leaves out keeps what another page chose (the event threshold) or its default."""
    if st.session_state.get("_initialised"):
        return
    q = st.query_params
    st.session_state["run"] = q.get("run") if q.get("run") in runs else runs[-1]
    try:
        if "threshold" in q:
            st.session_state["threshold"] = float(q["threshold"])
    except ValueError:
        pass  # threshold_slider falls back to its default
    lead = q.get("lead", "27")
    st.session_state["_wanted_lead"] = int(lead) if lead.isdigit() else 27
    st.session_state["place"] = q.get("place", DEFAULT_PLACE)
    st.session_state["_initialised"] = True


@st.cache_data(max_entries=64, show_spinner=False)
def _case_scores(ref: DataRef, run: str, state: str, threshold: float, p_threshold: float, window: int) -> dict:
    """Whole-run scores: computed once per setting (and state of the run's files, which only keys the cache), so
    moving the lead time costs nothing here."""
    data = get_run(ref, run)
    return case_scores(
        events(data.nwp, model_events(data, threshold), data.qpe, data.mask, threshold, p_threshold), window
    )


FORECAST_CLASS = "forecast class"
STEP_HELP = "the {} lead time of the run (key {})"


def _scores_table(scores: dict, lead_index: int) -> pd.DataFrame:
    rows = []
    for key, label in SCORE_LABELS.items():
        row = {"score": label}
        for scope in ("lead", "run"):
            values = {
                src: float(s["per_lead"][key][lead_index] if scope == "lead" else s["run"][key])
                for src, s in scores.items()
            }
            row[f"NWP ({scope})"] = values["nwp"]
            if "model" in values:
                row[f"model ({scope})"] = values["model"]
                row[f"Δ ({scope})"] = values["model"] - values["nwp"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("score")


def _spans(hours: list[int]) -> str:
    """Sorted hours as ranges: [1, 2, 3, 7] -> "1-3, 7"."""
    spans: list[list[int]] = []
    for h in hours:
        if spans and h == spans[-1][1] + 1:
            spans[-1][1] = h
        else:
            spans.append([h, h])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def _png(data: RunData, i: int, what: str, model_map: tuple | None, lead: int, when: str) -> bytes:
    """The PNG of one of the viewer's three maps at lead index ``i``, titled with run, lead and valid time."""
    from app.export import CLASSES, PROBABILITY, png_map

    head = f"run {data.run} UTC +{lead} h, {when}"
    if what == "model":
        values, kind, title = model_map
        title = title.replace("<br>", ", ")
        scale = CLASSES if kind == "class" else PROBABILITY
        return png_map(values, data.lat, data.lon, f"{title}\n{head}", scale=scale, learnt=data.learnt_area)
    values, name = (data.nwp[i], "Raw NWP rain") if what == "nwp" else (data.qpe[i], "Observed QPE")
    return png_map(values, data.lat, data.lon, f"{name} (mm/h)\n{head}")


PLAY_SECONDS = 2.0


def _play_or_pause() -> None:
    st.session_state[PLAYING] = not st.session_state.get(PLAYING, False)


@st.fragment(run_every=PLAY_SECONDS)
def _play(leads: list[int]) -> None:
    """While the sidebar's Play is on: the page redrawn at the next lead time (after the last, the first), which
    ``main`` takes up before it draws the lead-time slider (the slider's value cannot change once it is drawn). The
    fragment also runs with every redraw of the page: a step waits its interval since the last."""
    now = time.monotonic()
    if now - st.session_state.get("_played_at", 0.0) < 0.9 * PLAY_SECONDS:
        return
    st.session_state["_played_at"] = now
    st.session_state["_step_to"] = leads[(leads.index(st.session_state["lead"]) + 1) % len(leads)]
    st.rerun()


def main() -> None:
    ref, runs = load_or_stop()
    sb = st.sidebar
    sb.caption(f"Data: `{ref[0]}`")
    _init_from_query(runs)
    run = sb.selectbox("Forecast run (00 UTC)", runs, key="run")
    data = get_run(ref, run)
    leads = data.leads
    if "_step_to" in st.session_state:  # Play's next lead time
        st.session_state["lead"] = st.session_state.pop("_step_to")
    if st.session_state.get("_run") != run or st.session_state.get("lead") not in leads:
        # a new run (or new data under the same name, e.g. an upload): the nearest lead time it has
        wanted = st.session_state.pop("_wanted_lead", st.session_state.get("lead", 27))
        st.session_state["lead"] = min(leads, key=lambda lead: abs(lead - wanted))
        st.session_state["_run"] = run
    # The run's own lead times, not a range: a run still arriving, or missing a file, has one lead or gaps.
    step_back, step_fwd = sb.columns(2)
    pos = leads.index(st.session_state["lead"])
    # The arrow keys press them, except where a slider or a text box has the keyboard (Streamlit leaves it the key).
    back = step_back.button(
        "◀ −1 h", key="lead_back", width="stretch", help=STEP_HELP.format("previous", "←"), shortcut="Left"
    )
    forward = step_fwd.button(
        "+1 h ▶", key="lead_forward", width="stretch", help=STEP_HELP.format("next", "→"), shortcut="Right"
    )
    if back and pos:
        st.session_state["lead"] = leads[pos - 1]
    if forward:
        st.session_state["lead"] = leads[min(pos + 1, len(leads) - 1)]
    lead = sb.select_slider("Lead time (h)", options=leads, key="lead")
    playing = st.session_state.get(PLAYING, False)
    sb.button(
        "⏸ Pause" if playing else "▶ Play",
        key="play",
        width="stretch",
        help=f"Step on one lead time every {PLAY_SECONDS:g} s, round the run (key Space)",
        on_click=_play_or_pause,
        shortcut="Space",
    )
    if playing:
        _play(leads)
    threshold = threshold_slider()
    p_threshold = probability_slider(
        threshold,
        help="The model forecasts the event where its calibrated P(rain >= threshold) reaches this value. The "
        "default is the threshold that maximised CSI on the validation runs (from the weights manifest).",
    )
    if "fss" not in st.session_state:
        st.session_state["fss"] = 9
    window = sb.select_slider("FSS neighbourhood (px, 5 km each)", options=[1, 3, 5, 9, 15, 25], key="fss")
    model_view = sb.radio(
        "Model map",
        [FORECAST_CLASS, "probability of the event", "most likely class"],
        key="model_view",
        help="Forecast class: rain where P(>= 0.1 mm/h) and heavy rain where P(>= 10 mm/h) reach their probability "
        "thresholds (the slider's for the chosen event, the tuned one for the other), the decisions the scores "
        "judge. Most likely class: the network's argmax, which its class weights tilt toward rain.",
    )
    st.query_params.update(
        {"run": run, "lead": str(lead), "threshold": f"{threshold:g}", "place": st.session_state.get("place", "")}
    )

    i = leads.index(lead)
    when = data.when(lead)
    st.title("Hourly rain over Korea: NWP, post-processed, observed")
    st.caption(f"Run {run} UTC · lead {lead} h · {when}")
    if data.prob is None:
        st.warning(f"{weights_problem()}: showing raw NWP against QPE only.")
    unobserved = [lt for j, lt in enumerate(leads) if not np.isfinite(data.qpe[j][data.mask]).any()]
    if lead in unobserved:
        st.warning(
            f"No observed QPE at this lead time ({when}): its file is missing or wholly invalid, so its scores are "
            "undefined (–) and the QPE map is empty."
        )
    if unobserved:
        st.caption(
            f"QPE missing at {len(unobserved)} of {len(leads)} lead times ({_spans(unobserved)} h): the run's scores "
            "count the observed hours only."
        )

    here = places(data)
    cities = {name: place for name, (place, _cell) in here.items()}

    def marked(fig, key: str) -> dict:
        """The map with the cities on it, clickable: a click on one picks it for the place chart below."""
        return {
            "figure_or_data": maps.mark_places(fig, cities, st.session_state.get("place")),
            "key": key,
            "on_select": partial(pick_place, key),
            "selection_mode": "points",
            "width": "stretch",
        }

    c1, c2, c3 = chart_slots(3, "maps-lead")
    c1.plotly_chart(**marked(maps.rain_map(data.nwp[i], data.lat, data.lon, "Raw NWP rain (mm/h)", when), "map_nwp"))
    model_map = None  # (values, "class" or "probability", title): drawn here, exported below
    if data.prob is not None:
        if model_view == FORECAST_CLASS:
            taus = {t: p_threshold if t == threshold else tuned_threshold(t) for t in MODEL_THRESHOLDS}
            cls = forecast_class(data.p_event[0.1][i], data.p_event[10.0][i], taus[0.1], taus[10.0])
            # Two lines: one line of this length is cut off at a third of a wide page.
            title = f"Post-processed: forecast class<br>rain P >= {taus[0.1]:.2f}, heavy P >= {taus[10.0]:.2f}"
            model_map = (cls, "class", title)
        elif model_view == "most likely class":
            model_map = (data.prob[i].argmax(0), "class", "Post-processed: most likely class")
        else:
            title = f"Post-processed: P(rain >= {threshold:g} mm/h), calibrated"
            model_map = (data.p_event[threshold][i], "probability", title)
        values, kind, title = model_map
        draw = maps.class_map if kind == "class" else maps.probability_map
        learnt = data.learnt_area
        c2.plotly_chart(**marked(draw(values, data.lat, data.lon, title, when, learnt), "map_model"))
        if not learnt.all():
            c2.caption("Grey: where the network learnt from no observation (no valid QPE in its training data).")
    c3.plotly_chart(**marked(maps.rain_map(data.qpe[i], data.lat, data.lon, "Observed QPE (mm/h)", when), "map_qpe"))
    if not np.isfinite(data.qpe[i]).all():
        c3.caption("Grey: no valid QPE this hour (beyond the radar and gauge coverage, or flagged invalid).")

    ev = events(data.nwp, model_events(data, threshold), data.qpe, data.mask, threshold, p_threshold)
    scores = _case_scores(ref, run, files_state(ref, run), threshold, p_threshold, window)
    k1, k2 = chart_slots(2, "maps-hit-miss")
    k1.plotly_chart(
        maps.contingency_map(
            ev["nwp"][i], ev["obs"][i], ev["valid"][i], data.lat, data.lon, f"Raw NWP vs QPE at {threshold:g} mm/h"
        ),
        width="stretch",
    )
    if "model" in ev:
        k2.plotly_chart(
            maps.contingency_map(
                ev["model"][i],
                ev["obs"][i],
                ev["valid"][i],
                data.lat,
                data.lon,
                f"Model (P >= {p_threshold:.2f}) vs QPE at {threshold:g} mm/h",
            ),
            width="stretch",
        )
    if not ev["valid"][i].all():
        st.caption("White on the hit/miss maps: not scored, where this hour has no valid QPE.")

    left, right = chart_slots(2, "scores-by-lead", min_width_px=SCORES_MIN_WIDTH_PX)
    table = _scores_table(scores, i)
    counts = {
        src: {k: int(scores[src]["per_lead"][k][i]) for k in ("hits", "misses", "false_alarms")} for src in scores
    }
    left.subheader(f"Scores at {threshold:g} mm/h")
    left.dataframe(table.style.format("{:.3f}"), width="stretch", placeholder="–")
    left.caption(
        "Observed events this lead: "
        + str(counts["nwp"]["hits"] + counts["nwp"]["misses"])
        + " px · "
        + " · ".join(
            f"{src}: {c['hits']} hits, {c['misses']} misses, {c['false_alarms']} false alarms"
            for src, c in counts.items()
        )
        + " · Δ = model − NWP · – = undefined (e.g. FAR where nothing was forecast)"
    )
    series = {src: scores[src]["per_lead"]["csi"] for src in scores}
    right.plotly_chart(maps.lead_curve(leads, series, f"CSI by lead time, run {run}"), width="stretch")
    heavy_rain_section(ref, data, marked)
    wettest_hour_section(ref, data, threshold, marked)
    earlier = (ref, runs[runs.index(run) - 1]) if runs.index(run) > 0 else None
    place_rows = place_section(data, here, lead, threshold, p_threshold, earlier)

    with st.expander("Export"):
        e1, e2, e3 = st.columns(3)
        shown = {"raw NWP rain": "nwp", "post-processed (as shown)": "model", "observed QPE": "qpe"}
        if model_map is None:
            del shown["post-processed (as shown)"]
        pick = e1.selectbox(
            "Map",
            list(shown),
            key="export_map",
            help="The map as the viewer shows it, on a Lambert conformal projection (cartopy)",
        )
        if e1.button("Render PNG", key="render_png"):
            e1.download_button(
                "Download PNG",
                _png(data, i, shown[pick], model_map, lead, when),
                file_name=f"{shown[pick]}_{run}_f{lead:03d}.png",
                mime="image/png",
            )
        e2.download_button(
            "Scores as CSV", table.to_csv().encode(), file_name=f"scores_{run}_f{lead:03d}.csv", mime="text/csv"
        )
        if place_rows is not None:
            place = st.session_state["place"]
            e2.download_button(
                f"{place} through the run as CSV",
                place_rows.to_csv(index=False).encode(),
                file_name=f"{re.sub(r'[^0-9a-z.]+', '_', place.lower())}_{run}.csv",
                mime="text/csv",
                key="place_csv",
            )
        if data.prob is not None and e3.button("Prepare prediction NetCDF"):
            from app.export import netcdf_bytes
            from app.state import catalog, predictor
            from engine.cache import predicted_run

            ds = predicted_run(catalog(ref), run, predictor())
            e3.download_button(
                "Download NetCDF", netcdf_bytes(ds), file_name=f"prediction_{run}.nc", mime="application/x-netcdf"
            )


main()

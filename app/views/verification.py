"""Verification over every run in the data source: scores by lead time with bootstrap intervals, performance,
reliability and ROC diagrams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.choices import any_hour_slider, probability_slider, threshold_slider
from app.layout import chart_slots
from app.maps import SOURCES, lead_curve, source_style
from app.state import DataRef, get_run, load_or_stop, model_events, run_leads, runs_state, weights_problem
from app.where import add_run, where_maps
from engine.verify.case import events
from engine.verify.categorical import (
    TABLE_KEYS,
    any_hour_events,
    bootstrap_interval,
    categorical_scores,
    contingency_events,
    pixel_tables,
    sum_tables,
)
from engine.verify.performance import background
from engine.verify.probabilistic import (
    HISTOGRAM_BINS,
    probability_histogram,
    reliability_from_histogram,
    roc_from_histogram,
)


@st.cache_data(show_spinner=False, max_entries=256)
def run_share(
    ref: DataRef, run: str, state: str, threshold: float, p_threshold: float, any_p: float, window: tuple[int, int]
) -> dict:
    """One run's share of :func:`season`, kept per run (~1 MB): when a run arrives or a QPE hour is redone, only
    that run is read again. ``state`` (``files_state``) only keys the cache. Its lead times, per source its
    tables per lead time, its pixels' counts over ``window``, its table of the event at any hour of ``window``
    (the model's at ``any_p``) and the model's probability histogram there."""
    d = get_run(ref, run)
    ev = events(d.nwp, model_events(d, threshold), d.qpe, d.mask, threshold, p_threshold)
    sources = [src for src in ("nwp", "model") if src in ev]
    lead = np.asarray(d.leads)
    sel = (lead >= window[0]) & (lead <= window[1])  # the window's hours of the same yes/no fields
    observed, valid = ev["obs"][sel], ev["valid"][sel]
    share = {
        "leads": d.leads,
        "lat": d.lat,
        "lon": d.lon,
        "tables": {src: contingency_events(ev[src], ev["obs"], ev["valid"], per_leading=True) for src in sources},
        "pixels": {
            src: {k: v.astype(np.int32) for k, v in pixel_tables(ev[src][sel], observed, valid).items()}
            for src in sources
        },
        "histogram": None,
        "any_hour": {"nwp": any_hour_events(ev["nwp"][sel], observed, valid)},
    }
    if d.p_event is not None:
        p_window = d.p_event[threshold][sel]
        share["any_hour"]["model"] = any_hour_events(p_window >= any_p, observed, valid)  # the run's own threshold
        p, o = p_window[valid], observed[valid]
        share.update(histogram=probability_histogram(p, o), squared=float(np.sum((p - o) ** 2)), scored=p.size)
    return share


@st.cache_data(show_spinner=False, max_entries=16)
def season(
    ref: DataRef,
    runs: tuple[str, ...],
    state: tuple[str, ...],
    threshold: float,
    p_threshold: float,
    any_p: float,
    window: tuple[int, int],
) -> dict:
    """Every run scored from its :func:`run_share`, each read once: a season of runs outgrows the cache of read
    runs, so a pass per product read each run again. ``state`` (``runs_state``) keys the cache. Returns

    - per source, (runs, leads) arrays of each table count over the union of the runs' ``leads``, with ``has``
      (which run has which lead: a run still arriving or missing a file has fewer, zero counts there) and
      ``bands``, CSI's 95 % interval per lead time over the runs that have it;
    - ``pixels``: each pixel's counts over the lead times in ``window`` (first, last; hours), as
      :func:`app.where.add_run` gathers them;
    - ``probabilistic``: reliability and ROC of P(rain >= threshold) over ``window``, from a probability
      histogram summed over the runs (decision thresholds every 1/200); None without weights;
    - ``any_hour``: per source, the table of the event at any hour of ``window`` (the model's at ``any_p``),
      summed over the runs.
    """
    bar = st.progress(0.0, text=f"Scoring {len(runs)} runs...")
    per_run: list[dict] = []
    leads_of: list[list[int]] = []
    pixels: dict = {}
    histogram, squared, scored = np.zeros((3, HISTOGRAM_BINS)), 0.0, 0  # of P(event): a run's pixels add counts
    any_hour: dict[str, list[dict]] = {}
    for k, (run, run_state) in enumerate(zip(runs, state, strict=True)):
        share = run_share(ref, run, run_state, threshold, p_threshold, any_p, window)
        per_run.append(share["tables"])
        leads_of.append(share["leads"])
        for src, tables in share["pixels"].items():
            add_run(pixels, src, tables, share["lat"], share["lon"])
        for src, table in share["any_hour"].items():
            any_hour.setdefault(src, []).append(table)
        if share["histogram"] is not None:
            histogram += share["histogram"]
            squared, scored = squared + share["squared"], scored + share["scored"]
        bar.progress((k + 1) / len(runs), text=f"Scored run {run} ({k + 1} of {len(runs)})")
    bar.empty()
    leads = sorted(set().union(*leads_of))
    has = np.array([[lead in ls for lead in leads] for ls in leads_of])
    out: dict[str, dict[str, np.ndarray]] = {}
    for r, tables in enumerate(per_run):
        for src, t in tables.items():
            for key in TABLE_KEYS:
                out.setdefault(src, {}).setdefault(key, np.zeros(has.shape, dtype=np.int64))[r, has[r]] = t[key]
    bands = {}
    for src, tab in out.items():
        per_lead = [
            bootstrap_interval(
                [{k: int(tab[k][r, j]) for k in TABLE_KEYS} for r in np.flatnonzero(has[:, j])], "csi", 300
            )
            for j in range(len(leads))
        ]
        bands[src] = ([lo for lo, _ in per_lead], [hi for _, hi in per_lead])
    probabilistic = None
    if scored:
        probabilistic = {
            "reliability": reliability_from_histogram(histogram, bins=10, brier=squared / scored),
            "roc": roc_from_histogram(histogram),
        }
    any_hour_summed = {src: sum_tables(tables) for src, tables in any_hour.items()}
    return {
        "leads": leads,
        "has": has,
        "bands": bands,
        **out,
        "pixels": pixels,
        "probabilistic": probabilistic,
        "any_hour": any_hour_summed,
    }


def main() -> None:
    ref, runs = load_or_stop()
    st.title("Verification over all runs")
    threshold = threshold_slider()
    p_threshold = probability_slider(
        threshold, help="On the model's calibrated P(rain >= threshold); the default was tuned on validation runs."
    )
    any_p = any_hour_slider(threshold, st.sidebar)
    st.caption(
        f"{len(runs)} runs from `{ref[0]}` · contingency tables summed over runs and QPE-valid pixels · "
        "95 % intervals: bootstrap over runs"
    )
    if problem := weights_problem():
        st.warning(f"{problem}: scoring the raw NWP only.")
    state = runs_state(ref, runs)
    leads = run_leads(ref, runs)
    window = (leads[0], leads[-1])
    if len(leads) > 1:
        kept = st.session_state.get("lead_window")
        if not (kept and leads[0] <= kept[0] <= kept[1] <= leads[-1]):  # first visit, or data with other leads
            st.session_state["lead_window"] = window
        window = st.sidebar.slider(
            "Lead times scored (h)",
            leads[0],
            leads[-1],
            key="lead_window",
            help="The table, the performance diagram, reliability and ROC count these lead times (e.g. 1-24 for day "
            "1, 25-48 for day 2); the curve shows every lead time.",
        )
    tabs = season(ref, tuple(runs), state, threshold, p_threshold, any_p, window)
    leads, has = tabs["leads"], tabs["has"]
    sel = (np.asarray(leads) >= window[0]) & (np.asarray(leads) <= window[1])
    scored = sum(tabs["nwp"][k] for k in TABLE_KEYS) > 0  # (runs, leads): a valid QPE pixel at that hour
    if not scored[:, sel].any():
        st.warning(
            f"No valid observed QPE for any run at lead times {window[0]}-{window[1]} h: nothing to verify. The "
            "observations are read from the data folder's QPE files (`python -m engine sources` lists the layouts)."
        )
        return
    unobserved = int((has & ~scored)[:, sel].sum())
    if unobserved:
        st.caption(
            f"QPE missing at {unobserved} of {int(has[:, sel].sum())} run-hours in the window: the scores count the "
            "observed hours only."
        )
    sources = [s for s in ("nwp", "model") if s in tabs]
    rows, series = [], {}
    for src in sources:
        summed = {k: tabs[src][k].sum(axis=0) for k in TABLE_KEYS}
        series[src] = categorical_scores(summed)["csi"]
        total = {k: int(tabs[src][k][:, sel].sum()) for k in TABLE_KEYS}
        s = categorical_scores(total)
        scored = np.flatnonzero(has[:, sel].any(axis=1))  # runs with a lead time in the window
        per_run = [{k: int(tabs[src][k][r, sel].sum()) for k in TABLE_KEYS} for r in scored]
        ci = bootstrap_interval(per_run, "csi")
        any_hour = categorical_scores(tabs["any_hour"][src])
        rows.append(
            {
                "source": SOURCES[src][0],
                **{k.upper(): s[k] for k in ("csi", "pod", "far", "bias", "ets", "f1")},
                "CSI 95% interval": f"{ci[0]:.3f}-{ci[1]:.3f}",
                "SR": s["sr"],
                "CSI any hour": any_hour["csi"],
                "bias any hour": any_hour["bias"],
                "_src": src,
            }
        )
    curve = lead_curve(leads, series, f"CSI by lead time at {threshold:g} mm/h", bands=tabs["bands"], height=360)
    if window != (leads[0], leads[-1]):
        curve.add_vrect(x0=window[0] - 0.5, x1=window[1] + 0.5, line={"color": "#444", "dash": "dot", "width": 1})
    st.subheader(f"Scores over lead times {window[0]}-{window[1]} h at {threshold:g} mm/h")
    table = pd.DataFrame(rows).drop(columns="_src").set_index("source")
    st.dataframe(
        table.style.format({c: "{:.3f}" for c in table.columns if c != "CSI 95% interval"}),
        width="stretch",
        placeholder="–",
    )
    st.caption(
        "Any hour: the event at some hour of each run's lead times in the window, a hit wherever the forecast and "
        "the QPE both had it, whichever hours (timing forgiven, place not; hours without QPE are not judged); the "
        f"model has it where its highest P over those hours reaches {any_p:.2f}, the sidebar's any-hour threshold. "
        "`python -m engine verify` prints the same."
    )
    st.plotly_chart(curve, width="stretch")
    where_maps(tabs["pixels"], threshold, window)

    c1, c2, c3 = chart_slots(3, "diagnostics")
    bg = background(60)
    perf = go.Figure(
        go.Contour(
            x=bg["sr"],
            y=bg["pod"],
            z=bg["csi"],
            contours={"start": 0.1, "end": 0.9, "size": 0.1, "coloring": "lines", "showlabels": True},
            colorscale="Greys",
            showscale=False,
            name="CSI",
        )
    )
    for b in (0.5, 1, 2, 4):
        sr = np.linspace(0.01, min(1, 1 / b), 30)
        perf.add_trace(
            go.Scatter(
                x=sr,
                y=b * sr,
                mode="lines",
                line={"dash": "dash", "color": "#999", "width": 1},
                name=f"bias {b}",
                showlegend=False,
            )
        )
    for row in rows:
        style = source_style(row["_src"])
        style["marker"] |= {"size": 12}
        perf.add_trace(
            go.Scatter(
                x=[row["SR"]],
                y=[row["POD"]],
                mode="markers",  # named in the legend: a text label beside the origin was cut off
                **style,
            )
        )
    perf.update_layout(
        title="Performance diagram",
        xaxis_title="success ratio (1 - FAR)",
        yaxis_title="POD",
        xaxis_range=[0, 1],
        yaxis_range=[0, 1],
        height=380,
    )
    c1.plotly_chart(perf, width="stretch")
    prob = tabs["probabilistic"]
    if prob is None:
        st.info(f"{weights_problem()}: reliability and ROC need the post-processed forecast.")
        return
    rel = prob["reliability"]
    fig = go.Figure(
        [
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#999"}, showlegend=False),
            go.Scatter(x=rel["mean_prob"], y=rel["obs_freq"], mode="lines+markers", **source_style("model")),
        ]
    )
    fig.update_layout(
        title=f"Reliability, P(>= {threshold:g} mm/h) · Brier {rel['brier']:.4f}",
        xaxis_title="forecast probability",
        yaxis_title="observed frequency",
        height=380,
        xaxis_range=[0, 1],
        yaxis_range=[0, 1],
    )
    c2.plotly_chart(fig, width="stretch")
    r = prob["roc"]
    diagonal = np.logspace(-4, 0, 50)
    fig = go.Figure(
        [
            go.Scatter(x=diagonal, y=diagonal, mode="lines", line={"dash": "dot", "color": "#999"}, showlegend=False),
            go.Scatter(x=r["pofd"], y=r["pod"], mode="lines", **source_style("model")),
        ]
    )
    for src in sources:  # the yes/no forecasts scored above, as points of the same plane
        t = {k: tabs[src][k][:, sel].sum() for k in TABLE_KEYS}
        pofd = t["false_alarms"] / max(t["false_alarms"] + t["correct_negatives"], 1)
        pod = t["hits"] / max(t["hits"] + t["misses"], 1)
        style = source_style(src)
        style["marker"] |= {"size": 11, "line": {"color": "white", "width": 1.5}}  # visible on its own curve
        if src == "model":
            style["name"] = f"model at P >= {p_threshold:.2f}"
        fig.add_trace(go.Scatter(x=[pofd], y=[pod], mode="markers", **style))
    fig.update_layout(
        title=f"ROC, area {r['auc']:.3f}",
        xaxis={
            "title": "POFD (log scale)",
            "type": "log",
            "range": [-4, 0],
            "tickvals": [1e-4, 1e-3, 1e-2, 1e-1, 1],
            "ticktext": ["0.0001", "0.001", "0.01", "0.1", "1"],
        },
        yaxis={"title": "POD", "range": [0, 1]},
        height=380,
        legend={"orientation": "h", "y": -0.3},
    )
    c3.plotly_chart(fig, width="stretch")
    c3.caption(
        "False-alarm rate on a log scale: a rare event's decisions sit far left (the markers), where a linear axis "
        "squeezes them against the edge. The area counts the whole curve; its points are the decisions P >= k/200."
    )


main()

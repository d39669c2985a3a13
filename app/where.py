"""Where over all runs: each pixel's event hours, observed and each forecast's too many or too few, and scores near
each city: the verification page's answer to "where is the forecast wrong", which domain totals cannot give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app.layout import chart_slots
from app.maps import SOURCES, event_hours_map
from app.state import linked_table
from engine.places import BOX_HALF, BOX_KM, box_around, places_on
from engine.verify.categorical import TABLE_KEYS, categorical_scores, paired_bootstrap_difference


def city_boxes(lat: np.ndarray, lon: np.ndarray) -> dict[str, tuple[slice, slice]]:
    """The (y, x) slices of the box around each city on the grid."""
    return {name: box_around(cell) for name, (_place, cell) in places_on(lat, lon).items()}


def add_run(counts: dict, src: str, tables: dict[str, np.ndarray], lat: np.ndarray, lon: np.ndarray) -> None:
    """Add one run's per-pixel counts of a source to ``counts``: per source the counts summed over the runs, ``lat``,
    ``lon``, and ``by_run``: per source and city, each run's counts in the city's box (the cases its intervals
    resample)."""
    counts[src] = tables if src not in counts else {k: counts[src][k] + tables[k] for k in TABLE_KEYS}
    for name, box in city_boxes(lat, lon).items():
        per_city = counts.setdefault("by_run", {}).setdefault(src, {}).setdefault(name, [])
        per_city.append({k: int(tables[k][box].sum()) for k in TABLE_KEYS})
    counts["lat"], counts["lon"] = lat, lon


def _saturation(counts: np.ndarray) -> float:
    """Where a count map's colour scale ends: the 98th percentile of its non-zero counts (at least one hour)."""
    nonzero = counts[np.isfinite(counts) & (counts > 0)]
    return max(1.0, float(np.percentile(nonzero, 98))) if nonzero.size else 1.0


def _delta_interval(model: list[dict], nwp: list[dict]) -> str | None:
    """The 95 % interval of model CSI - NWP CSI near a city, a paired bootstrap over the runs; None where fewer
    than two runs observed or forecast the event there (resampling would have nothing to vary)."""
    active = sum(
        m["hits"] + m["misses"] + m["false_alarms"] + n["false_alarms"] > 0 for m, n in zip(model, nwp, strict=True)
    )
    if active < 2:
        return None
    d = paired_bootstrap_difference(model, nwp, "csi")
    low, high = (round(d[k], 2) + 0.0 for k in ("low", "high"))  # + 0.0: no "-0.00"
    return f"{low:+.2f} to {high:+.2f}"


def city_table(counts: dict, threshold: float) -> pd.DataFrame:
    """Scores near each city on the grid from counts gathered by :func:`add_run`, its cities with most observed
    events first."""
    sources = [s for s in ("nwp", "model") if s in counts]
    rows = []
    for name, box in city_boxes(counts["lat"], counts["lon"]).items():
        row: dict = {"city": name, "open": f"/?place={name}&threshold={threshold:g}"}
        for src in sources:
            t = {k: int(counts[src][k][box].sum()) for k in TABLE_KEYS}
            s = categorical_scores(t)
            row["observed (px h)"] = t["hits"] + t["misses"]
            row[f"{SOURCES[src][0]} CSI"] = s["csi"]
            row[f"{SOURCES[src][0]} bias"] = s["bias"]
        if "model" in counts:
            row["Δ CSI"] = row["model CSI"] - row["raw NWP CSI"]
            row["Δ CSI 95 %"] = _delta_interval(counts["by_run"]["model"][name], counts["by_run"]["nwp"][name])
        rows.append(row)
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).sort_values("observed (px h)", ascending=False, kind="stable")
    first = ["city", "open", "observed (px h)"]
    return table[first + [c for c in table.columns if c not in first]]


def where_maps(counts: dict, threshold: float, window: tuple[int, int]) -> None:
    """Where each forecast has too many or too few event hours: a misplaced rain band shows as a green (too wet)
    stripe beside a brown (too dry) one, which the domain totals above cancel out."""
    st.subheader(f"Where: event hours at {threshold:g} mm/h, lead times {window[0]}-{window[1]} h, all runs")
    sources = [s for s in ("nwp", "model") if s in counts]
    first = counts[sources[0]]
    scored = sum(first[k] for k in TABLE_KEYS) > 0
    observed = np.where(scored, first["hits"] + first["misses"], np.nan)
    balance = {src: np.where(scored, counts[src]["false_alarms"] - counts[src]["misses"], np.nan) for src in sources}
    # A mountain's hundred hours would wash every other pixel out: the scales end at the 98th percentile of the
    # counts where there are any (beyond it the colour saturates; the hover gives the count).
    zmax = _saturation(np.concatenate([np.abs(b).ravel() for b in balance.values()]))
    columns = chart_slots(1 + len(sources), "maps-event-hours")
    lat, lon = counts["lat"], counts["lon"]
    columns[0].plotly_chart(
        event_hours_map(observed, lat, lon, "Observed event hours", None, _saturation(observed), False),
        width="stretch",
    )
    for col, src in zip(columns[1:], sources, strict=True):
        hover = np.stack([counts[src][k] for k in ("hits", "misses", "false_alarms")], axis=-1)
        title = f"{SOURCES[src][0]}: forecast − observed hours"
        col.plotly_chart(event_hours_map(balance[src], lat, lon, title, hover, zmax, True), width="stretch")
    st.caption(
        "Each pixel counts the hours (over every run and the lead times scored) with the event observed, and how "
        "many more (green, too wet) or fewer (brown, too dry) hours each forecast had it: false alarms minus "
        "misses. Both forecast maps share one colour scale; the scales saturate at the 98th percentile of the "
        "counts (the hover gives each pixel's). Grey: beyond the QPE coverage, nothing scored."
    )
    table = city_table(counts, threshold)
    if table.empty:
        return
    scores = {c: st.column_config.NumberColumn(format="%.3f") for c in table.columns if c.endswith(("CSI", "bias"))}
    linked_table(table, "rain at the city", scores)
    st.caption(
        f"By city: the {2 * BOX_HALF + 1} x {2 * BOX_HALF + 1} cells ({BOX_KM} km box) around each KMA ASOS station, "
        "contingency counts summed over its scored pixels, the runs and the lead times in the window before the "
        "ratios; observed: pixel-hours with the event. – where nothing was observed or forecast. Δ CSI 95 %: "
        "model minus raw NWP, a paired bootstrap over the runs (Hamill 1999); an interval that spans 0 means these "
        "runs cannot tell the two apart there. The link opens the case viewer's chart of the city (latest run)."
    )

"""Heavy-rain accumulations at a place against KMA's heavy-rain advisory and warning criteria.

KMA issues a heavy-rain advisory (호우주의보) when 3-hour rainfall is expected to reach 60 mm or 12-hour rainfall
110 mm, and a warning (호우경보) at 90 mm in 3 h or 180 mm in 12 h (KMA's special weather report criteria, in force
since 2011). A forecaster reads an hourly forecast at a place through these sums, which hourly classes cannot give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# (name, {window hours: mm}): a level is reached when any of its windows' sums reaches its amount
KMA_LEVELS: tuple[tuple[str, dict[int, float]], ...] = (
    ("warning", {3: 90.0, 12: 180.0}),
    ("advisory", {3: 60.0, 12: 110.0}),
)
WINDOWS = (3, 12)
CRITERIA = "KMA heavy rain: advisory at 60 mm in 3 h or 110 mm in 12 h, warning at 90 mm in 3 h or 180 mm in 12 h"


LEVELS = ("none", "advisory", "warning")  # level codes 0, 1, 2; -1 where unknown


@dataclass(frozen=True)
class Accumulation:
    mm: float  # the largest sum over any window of consecutive hours; NaN where no window is whole
    last_lead: int | None  # the lead time (h) that window ends at


def window_sums(leads: Sequence[int], rain: np.ndarray, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of hourly ``rain`` (mm/h along axis 0 at each lead time, each the hour ending then) over every window
    of ``hours`` consecutive lead times: (the lead time each window ends at, the sums stacked along axis 0). A lead
    time missing from ``leads`` or a NaN leaves its windows NaN, since an unknown hour could hold the rain that
    decides a warning."""
    leads = np.asarray(leads, dtype=int)
    rain = np.asarray(rain, dtype=float)
    if len(leads) == 0 or leads.max() - leads.min() + 1 < hours:
        return np.zeros(0, dtype=int), np.zeros((0, *rain.shape[1:]))
    hourly = np.arange(leads.min(), leads.max() + 1)
    full = np.full((len(hourly), *rain.shape[1:]), np.nan)
    full[leads - hourly[0]] = rain
    sums = np.lib.stride_tricks.sliding_window_view(full, hours, axis=0).sum(axis=-1)
    return hourly[hours - 1 :], sums


def max_accumulation(leads: Sequence[int], rain: np.ndarray, hours: int) -> Accumulation:
    """The largest ``hours``-hour sum of a place's hourly ``rain`` over whole windows (:func:`window_sums`), and
    the first lead time such a window ends at. ``rain`` may hold several pixels after its lead axis (an area):
    then the largest sum at any one of them."""
    ends, sums = window_sums(leads, rain, hours)
    if not np.isfinite(sums).any():
        return Accumulation(float("nan"), None)
    best = np.unravel_index(int(np.nanargmax(sums)), sums.shape)
    return Accumulation(float(sums[best]), int(ends[best[0]]))


Windows = Mapping[int, tuple[np.ndarray, np.ndarray]]  # hours -> window_sums(leads, rain, hours), computed once


def _formed(
    leads: Sequence[int], rain: np.ndarray, hours: int, windows: Windows | None
) -> tuple[np.ndarray, np.ndarray]:
    """``window_sums(leads, rain, hours)``, taken from ``windows`` where the caller formed them already."""
    return windows[hours] if windows and hours in windows else window_sums(leads, rain, hours)


def max_accumulation_map(
    leads: Sequence[int], rain: np.ndarray, hours: int, windows: Windows | None = None
) -> np.ndarray:
    """At every pixel of ``rain`` (lead, lat, lon), the largest ``hours``-hour sum over whole windows; NaN where
    there is none (a pixel never observed, or a run shorter than the window). ``windows``: the sums already
    formed (:data:`Windows`)."""
    _, sums = _formed(leads, rain, hours, windows)
    finite = np.isfinite(sums)
    return np.where(finite.any(axis=0), np.where(finite, sums, -np.inf).max(axis=0, initial=-np.inf), np.nan)


def peak_hour(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At every pixel of ``values`` (lead, ...): its largest value over the run (an hour's rain, or a probability)
    and the index along the lead axis of the first hour that held it. NaN and -1 where every hour is NaN; a NaN hour
    is passed over, since the peak of the hours known is what a forecaster reads off a map."""
    values = np.asarray(values, dtype=float)
    known = np.isfinite(values)
    filled = np.where(known, values, -np.inf)
    first = filled.argmax(axis=0)
    peak = np.take_along_axis(filled, first[None], axis=0)[0]
    seen = known.any(axis=0)
    return np.where(seen, peak, np.nan), np.where(seen, first, -1)


def first_reached(
    leads: Sequence[int], rain: np.ndarray, criteria: dict[int, float], windows: Windows | None = None
) -> np.ndarray:
    """At every pixel of ``rain`` (lead, ...), the first lead time (h) at which a window of any length in
    ``criteria`` (hours -> mm, as in :data:`KMA_LEVELS`) ends with its sum at or above its amount: when a level was
    reached. NaN where it never was within the run. ``windows``: the sums already formed (:data:`Windows`)."""
    first = np.full(np.shape(rain)[1:], np.inf)
    for hours, mm in criteria.items():
        ends, sums = _formed(leads, rain, hours, windows)
        with np.errstate(invalid="ignore"):
            reached = sums >= mm
        if len(ends):
            first = np.minimum(first, np.where(reached.any(axis=0), ends[reached.argmax(axis=0)], np.inf))
    return np.where(np.isfinite(first), first, np.nan)


def level_codes(sums: dict[int, np.ndarray]) -> np.ndarray:
    """The KMA level reached where the largest sums by window length (hours -> mm, scalars or arrays) reach its
    criteria: 2 warning, 1 advisory, 0 none, -1 unknown (no level reached and a window length had no whole window
    to sum: hours missing)."""
    arrays = {h: np.asarray(sums.get(h, np.nan), dtype=float) for h in WINDOWS}
    with np.errstate(invalid="ignore"):
        code = np.where(np.logical_or.reduce([~np.isfinite(a) for a in arrays.values()]), -1, 0)
        for name, criteria in reversed(KMA_LEVELS):
            reached = np.logical_or.reduce([arrays[h] >= mm for h, mm in criteria.items()])
            code = np.where(reached, LEVELS.index(name), code)
    return code


def kma_level(sums: dict[int, float]) -> str:
    """ "warning", "advisory", "none" or "unknown" for one place's largest sums by window (:func:`level_codes`)."""
    code = int(level_codes(sums))
    return "unknown" if code < 0 else LEVELS[code]


def place_sums(hours: pd.DataFrame, area: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """A place's KMA level reached, largest 3 h and 12 h sums, observed and raw NWP, each window's end and the run
    total; from its hours as :func:`engine.places.hours_at` gives them. ``area`` adds a row per entry (a label and
    ``(lead, pixel)`` rain over the same lead times, say the cells around the place): its largest sums at any one
    pixel, so a storm just beside the place's cell is not missed."""
    leads = hours["lead time (h)"].to_numpy()
    ends = dict(zip(leads, hours["valid (KST)"], strict=True))
    series = {label: hours[f"{label} (mm/h)"].to_numpy(dtype=float) for label in ("observed QPE", "raw NWP")}
    rows = {}
    for label, rain in {**series, **(area or {})}.items():
        rain = np.asarray(rain, dtype=float)
        row, sums = {}, {}
        for window in WINDOWS:
            acc = max_accumulation(leads, rain, window)
            sums[window] = row[f"max {window} h (mm)"] = acc.mm
            row[f"{window} h ending"] = (
                None if acc.last_lead is None else f"+{acc.last_lead} h, {ends[acc.last_lead]} KST"
            )
        totals = rain.sum(axis=0)  # NaN where an hour is missing: the total is unknown there
        row["run total (mm)"] = float(np.nanmax(totals)) if np.isfinite(totals).any() else np.nan
        rows[label] = {"KMA heavy rain": kma_level(sums), **row}  # first: a narrow table still shows it
    return pd.DataFrame.from_dict(rows, orient="index")

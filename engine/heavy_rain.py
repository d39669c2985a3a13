"""Heavy-rain accumulations at a place against KMA's heavy-rain advisory and warning criteria.

KMA issues a heavy-rain advisory (호우주의보) when 3-hour rainfall is expected to reach 60 mm or 12-hour rainfall
110 mm, and a warning (호우경보) at 90 mm in 3 h or 180 mm in 12 h (KMA's special weather report criteria, in force
since 2011). A forecaster reads an hourly forecast at a place through these sums, which hourly classes cannot give.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True)
class Accumulation:
    mm: float  # the largest sum over any window of consecutive hours; NaN where no window is whole
    last_lead: int | None  # the lead time (h) that window ends at


def max_accumulation(leads: Sequence[int], rain: np.ndarray, hours: int) -> Accumulation:
    """The largest ``hours``-hour sum of hourly ``rain`` (mm/h at each lead time, each the hour ending then) over
    windows of consecutive lead times with every hour known: a missing lead time or a NaN breaks a window, since an
    unknown hour could hold the rain that decides a warning."""
    leads = np.asarray(leads, dtype=int)
    rain = np.asarray(rain, dtype=float)
    best = Accumulation(float("nan"), None)
    for end in range(hours - 1, len(leads)):
        span = slice(end - hours + 1, end + 1)
        if leads[end] - leads[span.start] != hours - 1 or not np.isfinite(rain[span]).all():
            continue
        total = float(rain[span].sum())
        if not total <= best.mm:  # NaN compares false: the first whole window sets it
            best = Accumulation(total, int(leads[end]))
    return best


def kma_level(sums: dict[int, float]) -> str:
    """ "warning", "advisory" or "none" for the largest sums by window length (hours -> mm); "unknown" where no
    level is reached and a window length had no whole window to sum (hours missing)."""
    for name, criteria in KMA_LEVELS:
        if any(sums.get(h, np.nan) >= mm for h, mm in criteria.items()):
            return name
    return "unknown" if any(not np.isfinite(sums.get(h, np.nan)) for h in WINDOWS) else "none"


def place_sums(hours: pd.DataFrame) -> pd.DataFrame:
    """A place's largest 3 h and 12 h sums, observed and raw NWP, each window's end, the run total and the KMA
    level reached; from its hours as :func:`engine.places.hours_at` gives them."""
    leads = hours["lead time (h)"].to_numpy()
    ends = dict(zip(leads, hours["valid (KST)"], strict=True))
    rows = {}
    for label, column in (("observed QPE", "observed QPE (mm/h)"), ("raw NWP", "raw NWP (mm/h)")):
        rain = hours[column].to_numpy(dtype=float)
        row, sums = {}, {}
        for window in WINDOWS:
            acc = max_accumulation(leads, rain, window)
            sums[window] = row[f"max {window} h (mm)"] = acc.mm
            row[f"{window} h ending"] = (
                None if acc.last_lead is None else f"+{acc.last_lead} h, {ends[acc.last_lead]} KST"
            )
        row["run total (mm)"] = float(rain.sum()) if np.isfinite(rain).all() else np.nan
        row["KMA heavy rain"] = kma_level(sums)
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index")

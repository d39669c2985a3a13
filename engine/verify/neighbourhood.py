"""Fractions skill score (FSS), the neighbourhood score for displaced rain.

FSS = 1 - sum (P_f - P_o)^2 / (sum P_f^2 + sum P_o^2), with P the fraction of event pixels in a square window
of side n around each pixel (Roberts & Lean 2008, Monthly Weather Review 136, 78-97). Fractions count only valid
pixels (mask and finite); only valid window centres enter the sums. Summed-area tables make each window O(1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _box_sum(sat: np.ndarray, half: int) -> np.ndarray:
    """Sum over a (2 half + 1)^2 window around each pixel from a zero-padded summed-area table.

    Edge-padding the table by ``half`` clips the window at the borders, so the four corners are plain slices.
    """
    ny, nx = sat.shape[-2] - 1, sat.shape[-1] - 1
    pad = [(0, 0)] * (sat.ndim - 2) + [(half, half), (half, half)]
    p = np.pad(sat, pad, mode="edge")
    lo_y, hi_y = slice(0, ny), slice(2 * half + 1, 2 * half + 1 + ny)
    lo_x, hi_x = slice(0, nx), slice(2 * half + 1, 2 * half + 1 + nx)
    return p[..., hi_y, hi_x] - p[..., lo_y, hi_x] - p[..., hi_y, lo_x] + p[..., lo_y, lo_x]


def _sat(field: np.ndarray) -> np.ndarray:
    # A yes/no field's counts add exactly, and faster, in int32 (a 160 x 160 grid counts to 25,600).
    dtype = np.int32 if field.dtype == bool else np.float64
    padded = np.zeros((*field.shape[:-2], field.shape[-2] + 1, field.shape[-1] + 1), dtype=dtype)
    padded[..., 1:, 1:] = field.cumsum(axis=-2, dtype=dtype).cumsum(axis=-1, dtype=dtype)
    return padded


def fss_components(
    forecast: np.ndarray,
    observed: np.ndarray,
    threshold: float,
    windows: Sequence[int],
    mask: np.ndarray | None = None,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each odd window size: (sum of squared differences, reference sum) per leading index (e.g. lead).

    Sum these over cases before forming ``1 - num / den``, just as contingency tables are summed.
    """
    f, o = np.asarray(forecast, dtype=float), np.asarray(observed, dtype=float)
    valid = np.isfinite(f) & np.isfinite(o)
    if mask is not None:
        valid &= np.broadcast_to(np.asarray(mask, dtype=bool), valid.shape)
    with np.errstate(invalid="ignore"):
        return fss_events(f >= threshold, o >= threshold, valid, windows)


def fss_events(
    forecast_event: np.ndarray, observed_event: np.ndarray, valid: np.ndarray, windows: Sequence[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``fss_components`` from yes/no fields directly (e.g. a probability decision against QPE >= 10)."""
    return fss_of_forecasts({"forecast": forecast_event}, observed_event, valid, windows)["forecast"]


def fss_of_forecasts(
    forecast_events: Mapping[str, np.ndarray], observed_event: np.ndarray, valid: np.ndarray, windows: Sequence[int]
) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """:func:`fss_events` of several forecasts (by name) against one observation, whose window sums (and the valid
    pixels') are formed once."""
    valid = np.asarray(valid, dtype=bool)
    sat_o, sat_v = _sat(np.asarray(observed_event, dtype=bool) & valid), _sat(valid)
    sat_f = {name: _sat(np.asarray(f, dtype=bool) & valid) for name, f in forecast_events.items()}
    out: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {name: {} for name in forecast_events}
    for n in windows:
        if n < 1 or n % 2 == 0:
            raise ValueError(f"window {n} must be a positive odd number of pixels")
        half = n // 2
        count = _box_sum(sat_v, half)
        with np.errstate(invalid="ignore", divide="ignore"):
            po = np.where(count > 0, _box_sum(sat_o, half) / count, 0.0) * valid
            for name, sat in sat_f.items():
                pf = np.where(count > 0, _box_sum(sat, half) / count, 0.0) * valid
                num = ((pf - po) ** 2).sum(axis=(-2, -1))
                den = (pf**2).sum(axis=(-2, -1)) + (po**2).sum(axis=(-2, -1))
                out[name][n] = (num, den)
    return out


def fss(
    forecast: np.ndarray,
    observed: np.ndarray,
    threshold: float,
    window: int,
    mask: np.ndarray | None = None,
) -> float:
    """FSS over all leading dimensions together (NaN when neither field has an event)."""
    num, den = fss_components(forecast, observed, threshold, [window], mask)[window]
    num, den = float(np.sum(num)), float(np.sum(den))
    # num <= den exactly ((a - b)^2 <= a^2 + b^2 for fractions in [0, 1]); the floor clears rounding at num == den.
    return max(0.0, 1.0 - num / den) if den > 0 else float("nan")

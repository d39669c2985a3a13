"""Scores of one forecast case (a run): raw NWP and post-processed model against QPE, per lead and for the run.

The model's yes/no event is "P(rain >= threshold) >= probability threshold", with P(>= 0.1) = p1 + p2 and
P(>= 10) = p2 from the 3 class probabilities (``event_probability``; the app passes them calibrated, see
``engine.calibration``); the model knows no other rain thresholds.
"""

from __future__ import annotations

import numpy as np

from engine.verify.categorical import TABLE_KEYS, categorical_scores, contingency_events
from engine.verify.neighbourhood import fss_of_forecasts

MODEL_THRESHOLDS = (0.1, 10.0)
CASE_SCORES = ("csi", "pod", "far", "bias", "ets", "f1")


def event_probability(prob: np.ndarray, threshold: float) -> np.ndarray:
    """P(rain >= threshold) from (..., 3, H, W) class probabilities, for threshold 0.1 or 10 mm/h."""
    if threshold == 0.1:
        return prob[..., 1, :, :] + prob[..., 2, :, :]
    if threshold == 10.0:
        return prob[..., 2, :, :]
    raise ValueError(f"the model predicts events at {MODEL_THRESHOLDS} mm/h only, not {threshold}")


def forecast_class(p_rain: np.ndarray, p_heavy: np.ndarray, tau_rain: float, tau_heavy: float) -> np.ndarray:
    """The 3-class forecast of the two yes/no decisions: 2 where P(>= 10) >= ``tau_heavy``, else 1 where
    P(>= 0.1) >= ``tau_rain``, else 0. Unlike the argmax of a class-weighted network, each class boundary is the
    decision the scores judge."""
    return np.where(p_heavy >= tau_heavy, 2, np.where(p_rain >= tau_rain, 1, 0)).astype(np.int8)


def events(
    nwp: np.ndarray, p_event: np.ndarray | None, qpe: np.ndarray, mask: np.ndarray, threshold: float, p_threshold: float
) -> dict[str, np.ndarray]:
    """Yes/no fields: ``obs``, ``nwp``, ``model`` (where the model's P(rain >= threshold), ``p_event``, is given)
    and ``valid`` (QPE finite and in the mask)."""
    valid = np.isfinite(qpe) & np.broadcast_to(mask, qpe.shape)
    with np.errstate(invalid="ignore"):
        out = {"obs": qpe >= threshold, "nwp": nwp >= threshold, "valid": valid}
    if p_event is not None:
        out["model"] = p_event >= p_threshold
    return out


def case_scores(ev: dict[str, np.ndarray], window: int) -> dict[str, dict]:
    """For each source: per-lead tables and scores, run totals, and FSS (per lead and run) at ``window`` px."""
    out = {}
    sources = [source for source in ("nwp", "model") if source in ev]
    fss_parts = fss_of_forecasts({source: ev[source] for source in sources}, ev["obs"], ev["valid"], [window])
    for source in sources:
        tables = contingency_events(ev[source], ev["obs"], ev["valid"], per_leading=True)
        total = {k: int(np.sum(v)) for k, v in tables.items()}
        num, den = fss_parts[source][window]
        with np.errstate(invalid="ignore", divide="ignore"):
            fss_lead = np.where(den > 0, 1 - num / np.where(den > 0, den, 1), np.nan)
        run_den = float(np.sum(den))
        out[source] = {
            "per_lead": {**{k: tables[k] for k in TABLE_KEYS}, **categorical_scores(tables), "fss": fss_lead},
            "run": {
                **total,
                **categorical_scores(total),
                "fss": (1 - float(np.sum(num)) / run_den) if run_den > 0 else float("nan"),
            },
        }
    return out

"""Scores of a data folder's forecasts against its QPE: per threshold and lead time, plus aggregates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.cache import predicted_run
from engine.calibration import any_hour_origin, default_probability_threshold
from engine.calibration import any_hour_probability as tuned_any_hour
from engine.data.base import RunSource
from engine.errors import DataError
from engine.model.manifest import DEFAULT_WEIGHTS
from engine.prediction import DeferredPredictor, Forecaster, class_to_rain
from engine.verify.case import MODEL_THRESHOLDS
from engine.verify.categorical import (
    TABLE_KEYS,
    any_hour_table,
    bootstrap_interval,
    categorical_scores,
    contingency_table,
    sum_tables,
)

SOURCES = ("nwp", "model")
DECISIONS = ("tuned", "argmax")  # how the model's class probabilities become a yes/no event (forecast_values)


def forecast_values(
    catalog: RunSource,
    source: str,
    run: str,
    lead_times: list[int],
    thresholds: Sequence[float],
    predictor: Forecaster | None = None,
    taus: dict[float, float] | None = None,
) -> dict[float, tuple[np.ndarray, float]]:
    """Per event threshold, the forecast's field (lead, lat, lon) and the value from which it forecasts the event.
    The raw NWP: its rain (mm/h) and the threshold. The model with ``taus`` (:func:`probability_thresholds`): its
    calibrated P(rain >= threshold) and that probability threshold; without: its most likely class as the class's
    lower bound (0, 0.1, 10 mm/h) and the threshold (the argmax decision)."""
    if source == "nwp":
        rain = catalog.load_run(run, lead_times, channels=("tp",))["tp"].values
        return {t: (rain, t) for t in thresholds}
    if source == "model":
        if predictor is None:
            raise DataError("--source model needs weights")
        pred = predicted_run(catalog, run, predictor).sel(lead_time=pd.to_timedelta(lead_times, unit="h"))
        if taus is None:
            rain = class_to_rain(pred["probability"].values)
            return {t: (rain, t) for t in thresholds}
        p = pred["event_probability"]
        return {t: (p.sel(threshold=t).values, taus[t]) for t in thresholds}
    raise DataError(f"unknown source {source!r} (choose from {', '.join(SOURCES)})")


def probability_thresholds(manifest: dict, thresholds: Sequence[float]) -> dict[float, float]:
    """The model's tuned probability threshold for each event threshold (as the app's default), refusing one it has
    no probability of."""
    other = [t for t in thresholds if t not in MODEL_THRESHOLDS]
    if other:
        raise DataError(
            f"the model forecasts P(rain >= {' / '.join(f'{t:g}' for t in MODEL_THRESHOLDS)} mm/h) only, not "
            f"{', '.join(f'{t:g}' for t in other)} mm/h: score other thresholds with --decision argmax"
        )
    return {t: default_probability_threshold(manifest, t) for t in thresholds}


def default_lead_times(catalog: RunSource, run: str) -> list[int]:
    """All lead times but 0: at the analysis time the NWP has produced no hourly rain yet."""
    return [ld for ld in catalog.lead_times(run) if ld > 0]


def _check_lead_times(catalog: RunSource, run: str, leads: list[int]) -> None:
    """Refuse lead times the run lacks, or 0 h, before any file is read."""
    have = catalog.lead_times(run)
    lacking = sorted(set(leads) - set(have))
    if lacking:
        span = f"{have[0]}-{have[-1]} h" if have else "none"
        raise DataError(f"run {run} has no lead time(s) {lacking} h (it has {span})")
    if 0 in leads:
        raise DataError("lead time 0 h holds no forecast rain yet (the run starts then): score lead times from 1 h")


def score_folder(
    catalog: RunSource,
    source: str = "nwp",
    runs: Sequence[str] | None = None,
    lead_times: Sequence[int] | None = None,
    thresholds: Sequence[float] = (0.1, 10.0),
    n_resamples: int = 1000,
    weights: str | None = None,
    decision: str = "tuned",
    any_hour_probability: float | None = None,
) -> dict:
    """Rows of scores: one per threshold and lead time, and one aggregate per threshold (``lead_time`` None)
    with bootstrap 95 % intervals (resampling runs) for CSI and bias; and ``any_hour``, a row per threshold for
    the event at some hour of each run (:func:`any_hour_table`), its tables summed over the runs. The model's
    tuned decision has it there at ``any_hour_probability`` where given, else at the manifest's any-hour
    probability (``engine.calibration.any_hour_probability``); its argmax decision at its most likely class."""
    bad = [t for t in thresholds if not (np.isfinite(t) and t > 0)]
    if bad:
        raise DataError(f"event thresholds must be above 0 mm/h (every pixel has rain >= 0): {bad}")
    runs = list(runs) if runs else catalog.runs()
    if decision not in DECISIONS:
        raise DataError(f"unknown decision {decision!r} (choose from {', '.join(DECISIONS)})")
    if any_hour_probability is not None and (source, decision) != ("model", "tuned"):
        raise DataError("--any-hour-probability applies to the model's probabilities: --source model --decision tuned")
    if any_hour_probability is not None and not 0 < any_hour_probability < 1:
        raise DataError(f"--any-hour-probability must lie between 0 and 1, not {any_hour_probability:g}")
    predictor, taus, over_run, origin = None, None, {}, None
    if source == "model":
        predictor = DeferredPredictor(weights or DEFAULT_WEIGHTS)
        if decision == "tuned":
            taus = probability_thresholds(predictor.manifest, thresholds)  # before any run is read
            over_run = {
                t: any_hour_probability if any_hour_probability is not None else tuned_any_hour(predictor.manifest, t)
                for t in thresholds
            }
            # where the run's threshold came from: the caller, or the manifest (tuned for it, or the hourly one)
            tuned_for_run = all(any_hour_origin(predictor.manifest, t) == "manifest" for t in thresholds)
            origin = "given" if any_hour_probability is not None else ("manifest" if tuned_for_run else "hourly")
    per_run: dict[float, list[dict]] = {thr: [] for thr in thresholds}
    any_hour: dict[float, list[dict]] = {thr: [] for thr in thresholds}
    leads_used: list[int] | None = None
    for run in runs:
        leads = list(lead_times) if lead_times else default_lead_times(catalog, run)
        if lead_times:
            _check_lead_times(catalog, run, leads)
        if leads_used is None:
            leads_used = leads
        elif leads != leads_used:
            raise DataError(f"run {run} has lead times {leads[:3]}..., other runs {leads_used[:3]}...")
        forecasts = forecast_values(catalog, source, run, leads, thresholds, predictor, taus)
        ob = catalog.load_qpe(run, leads).values
        for thr, (values, at) in forecasts.items():
            mask = catalog.verify_mask
            per_run[thr].append(contingency_table(values, ob, thr, mask, per_leading=True, forecast_threshold=at))
            any_hour[thr].append(any_hour_table(values, ob, thr, mask, forecast_threshold=over_run.get(thr, at)))
    assert leads_used is not None
    rows = []
    for thr in thresholds:
        by_lead = sum_tables(per_run[thr])
        for i, lead in enumerate(leads_used):
            table = {k: int(by_lead[k][i]) for k in TABLE_KEYS}
            rows.append(_row(thr, lead, table))
        total = {k: int(np.sum(by_lead[k])) for k in TABLE_KEYS}
        row = _row(thr, None, total)
        case_totals = [{k: int(np.sum(t[k])) for k in TABLE_KEYS} for t in per_run[thr]]
        row["csi_ci95"] = bootstrap_interval(case_totals, "csi", n_resamples)
        row["bias_ci95"] = bootstrap_interval(case_totals, "bias", n_resamples)
        rows.append(row)
    any_rows = []
    for thr in thresholds:
        row = _row(thr, None, {k: int(v) for k, v in sum_tables(any_hour[thr]).items()})
        row["csi_ci95"] = bootstrap_interval(any_hour[thr], "csi", n_resamples)
        any_rows.append(row)
    return {
        "source": source,
        "weights_sha256": predictor.sha256 if predictor is not None else None,
        "decision": decision if source == "model" else None,
        "probability_thresholds": {f"{t:g}": tau for t, tau in taus.items()} if taus else None,
        "any_hour_probability": {f"{t:g}": p for t, p in over_run.items()} or None,
        "any_hour_from": origin,
        "data": str(catalog.root),
        "runs": runs,
        "lead_times": leads_used,
        "thresholds": list(thresholds),
        "scores": rows,
        "any_hour": any_rows,
    }


def _row(threshold: float, lead: int | None, table: dict[str, int]) -> dict:
    scores = categorical_scores(table)
    return {"threshold": threshold, "lead_time": lead, **table, **{k: _num(v) for k, v in scores.items()}}


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 6)


def format_table(result: dict) -> str:
    """A readable text table of ``score_folder``'s rows."""
    cols = ("csi", "pod", "far", "bias", "ets", "f1")
    head = f"{'thr mm/h':>8} {'lead h':>6} " + " ".join(f"{c.upper():>6}" for c in cols) + f" {'obs ev':>9}"
    decision = ""
    if result.get("decision") == "tuned":
        taus = ", ".join(f"P >= {tau:.2f} at {t} mm/h" for t, tau in result["probability_thresholds"].items())
        decision = f" decision=tuned ({taus})"
    elif result.get("decision"):
        decision = f" decision={result['decision']}"
    lines = [f"source={result['source']}{decision} runs={len(result['runs'])} data={result['data']}", head]
    for r in result["scores"]:
        lead = "all" if r["lead_time"] is None else str(r["lead_time"])
        vals = " ".join(f"{(r[k] if r[k] is not None else float('nan')):6.3f}" for k in cols)
        lines.append(f"{r['threshold']:8g} {lead:>6} {vals} {r['hits'] + r['misses']:9d}")
        if r["lead_time"] is None:
            lo, hi = r["csi_ci95"]
            lines.append(f"{'':>15} CSI 95% interval (bootstrap over runs): {lo:.3f}-{hi:.3f}")
    at = result.get("any_hour_probability")
    origin = {
        "manifest": ", tuned on validation runs",
        "hourly": ", its hourly thresholds: the weights record none of their own for the run",
    }.get(result.get("any_hour_from"), "")
    at_each = ", ".join(f"P >= {p:.2f} at {t} mm/h" for t, p in (at or {}).items())
    model_at = f"; the model at {at_each}{origin}" if at else ""
    lines.append(f"the event at any hour of each run (a hit wherever both had it, whichever hours{model_at}):")
    for r in result["any_hour"]:
        vals = " ".join(f"{(r[k] if r[k] is not None else float('nan')):6.3f}" for k in cols)
        lo, hi = r["csi_ci95"]
        lines.append(f"{r['threshold']:8g} {'any':>6} {vals} {r['hits'] + r['misses']:9d}  CSI 95%: {lo:.3f}-{hi:.3f}")
    return "\n".join(lines)

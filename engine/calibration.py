"""Calibrated event probabilities: what fraction of the time an event happens when the model says P.

The network is trained with class weights [1, 5, 10], which buy heavy-rain detection by inflating the rare classes'
probabilities: on the validation runs the shipped network says P(>= 10 mm/h) = 0.04 on average where the event
happens 0.5 % of the time. Its decisions are unaffected (their probability threshold is tuned on validation runs),
but a forecaster reading "P = 0.4" on the map is misled.

The map from the network's event probability p to the observed frequency is fitted on the validation runs by
isotonic regression (monotone, no assumed shape; Zadrozny & Elkan 2002, "Transforming classifier scores into
accurate multiclass probability estimates", KDD) over fine probability bins, and stored in the weights' manifest
as knots ``{"p": [...], "freq": [...]}``, applied by linear interpolation. Being monotone, it keeps the order of
pixels, so ROC areas stay the same and a decision "calibrated P >= calibrate(tau)" matches "p >= tau" except
where the map is flat around tau.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from engine.verify.case import MODEL_THRESHOLDS, event_probability
from engine.verify.probabilistic import bin_means


def fit_isotonic(histogram: np.ndarray) -> dict[str, list[float]]:
    """Knots of the isotonic regression of observed frequency on mean probability over the bins of a probability
    histogram (``engine.verify.probabilistic.probability_histogram``), bins weighted by their counts."""
    from sklearn.isotonic import IsotonicRegression  # here: importing scikit-learn costs ~2 s a process

    count, _, events = np.asarray(histogram, dtype=np.float64)
    has = count > 0
    if has.sum() < 2:
        raise ValueError("calibration needs forecasts in at least two probability bins")
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(bin_means(histogram)[has], events[has] / count[has], sample_weight=count[has])
    return {
        "p": [round(float(v), 6) for v in iso.X_thresholds_],
        "freq": [round(float(v), 6) for v in iso.y_thresholds_],
    }


def calibrate(prob: np.ndarray, knots: dict[str, list[float]]) -> np.ndarray:
    """The calibrated probability: the knots interpolated linearly, constant beyond the first and last."""
    return np.interp(prob, knots["p"], knots["freq"]).astype(np.float32)


def calibrated_bins(histogram: np.ndarray, knots: dict[str, list[float]]) -> np.ndarray:
    """Each bin's mean probability calibrated: the per-bin forecast for the binned scores of
    ``engine.verify.probabilistic`` (NaN where the bin is empty)."""
    means = bin_means(histogram)
    return np.where(np.isfinite(means), np.interp(np.nan_to_num(means), knots["p"], knots["freq"]), np.nan)


def decision_threshold(manifest: dict, threshold: float, default: float = 0.5) -> float:
    """The probability threshold tuned on validation runs for the event ``rain >= threshold`` (the manifest's
    ``decision_thresholds``), in the calibrated probability that the engine reports where it is calibrated."""
    tau = (manifest.get("decision_thresholds") or {}).get(f"{threshold:g}")
    if tau is None:
        return default
    knots = (manifest.get("calibration") or {}).get(f"{threshold:g}")
    return float(calibrate(np.float64(tau), knots)) if knots else float(tau)


def default_probability_threshold(manifest: dict, threshold: float) -> float:
    """:func:`decision_threshold` to the 0.01 the app's slider steps by: the decision the app shows and the one
    ``python -m engine verify`` scores, so the two give the same figures."""
    return round(decision_threshold(manifest, threshold), 2)


def any_hour_probability(manifest: dict, threshold: float) -> float:
    """The calibrated probability from which the model has the event ``rain >= threshold`` at some hour of a run:
    its highest P over the run's hours reaching it. Tuned on validation runs where the manifest has it
    (``any_hour_probability``, ``training.any_hour``), else the hourly decision, which flags too little of a run."""
    if any_hour_origin(manifest, threshold) == "hourly":
        return default_probability_threshold(manifest, threshold)
    return float(manifest["any_hour_probability"][f"{threshold:g}"])


def any_hour_origin(manifest: dict, threshold: float) -> str:
    """Where :func:`any_hour_probability` takes the event's threshold from: "manifest" (tuned for the run) or
    "hourly" (the manifest has none for it)."""
    return "manifest" if f"{threshold:g}" in (manifest.get("any_hour_probability") or {}) else "hourly"


def calibrated_events(prob: np.ndarray, calibration: dict[str, dict] | None) -> tuple[np.ndarray, list[bool]]:
    """P(rain >= threshold) for the model's thresholds (axis -3, ``MODEL_THRESHOLDS``) from class probabilities
    (..., 3, H, W), calibrated where ``calibration`` (the manifest's, keyed by ``f"{threshold:g}"``) has knots
    for it; and which were."""
    fields, done = [], []
    for thr in MODEL_THRESHOLDS:
        p = event_probability(prob, thr)
        knots = (calibration or {}).get(f"{thr:g}")
        fields.append(calibrate(p, knots) if knots else p.astype(np.float32))
        done.append(knots is not None)
    # Calibrated separately, the two may cross by a hair: P(>= 10) cannot exceed P(>= 0.1).
    fields[1] = np.minimum(fields[1], fields[0])
    return np.stack(fields, axis=-3), done


def event_probabilities(ds: xr.Dataset, calibration: dict[str, dict] | None) -> xr.DataArray:
    """:func:`calibrated_events` of a post-processed run's class ``probability``, as a DataArray."""
    fields, done = calibrated_events(ds["probability"].values, calibration)
    return xr.DataArray(
        fields,
        dims=("lead_time", "threshold", "lat", "lon"),
        coords={
            **{k: v for k, v in ds["probability"].coords.items() if k != "category"},
            "threshold": ("threshold", np.array(MODEL_THRESHOLDS), {"units": "mm h-1"}),
        },
        name="event_probability",
        attrs={
            "long_name": "probability of hourly rain at or above the threshold",
            "units": "1",
            "calibrated": " ".join(
                f"{t:g}:{'isotonic' if d else 'no'}" for t, d in zip(MODEL_THRESHOLDS, done, strict=True)
            ),
        },
    )

"""Scores for event probabilities (e.g. the model's P(rain >= 10 mm/h)).

* Brier score BS = mean (p - o)^2 (Brier 1950, Monthly Weather Review 78, 1-3), o in {0, 1}.
* Murphy (1973) decomposition over K probability bins: BS = REL - RES + UNC with
  REL = sum_k n_k (p_k - o_k)^2 / N, RES = sum_k n_k (o_k - o)^2 / N, UNC = o (1 - o), where p_k and o_k are the
  mean forecast probability and observed frequency in bin k (exact when forecasts are constant within bins).
* ROC: POD vs POFD as the decision probability varies; area by the trapezoid rule (Mason 1982), via
  scikit-learn's ``roc_curve``.

Over millions of pixels and many cases the same scores come from **probability histograms**: per bin of width
1/200, the count, the sum of the forecast probabilities and the count of events, summed over cases (so a case is a
slice to resample). The binned Brier score and reliability term score the forecast rounded to its bin's mean (or a
per-bin forecast such as a calibrated one); the binned ROC uses the bins as decision thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.verify.categorical import paired_summary


def _flatten(prob: np.ndarray, event: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    p, o = np.asarray(prob, dtype=float), np.asarray(event, dtype=float)
    valid = np.isfinite(p) & np.isfinite(o)
    if mask is not None:
        valid &= np.broadcast_to(np.asarray(mask, dtype=bool), valid.shape)
    return p[valid], o[valid]


def brier_score(prob: np.ndarray, event: np.ndarray, mask: np.ndarray | None = None) -> float:
    p, o = _flatten(prob, event, mask)
    return float(np.mean((p - o) ** 2)) if p.size else float("nan")


def reliability(
    prob: np.ndarray, event: np.ndarray, mask: np.ndarray | None = None, bins: int = 10
) -> dict[str, np.ndarray | float]:
    """Reliability-diagram data and the Brier decomposition.

    Returns ``bin_edges``, per bin ``count``, ``mean_prob`` and ``obs_freq`` (NaN for empty bins), and the scalars
    ``brier``, ``reliability``, ``resolution``, ``uncertainty``.
    """
    p, o = _flatten(prob, event, mask)
    return reliability_from_histogram(probability_histogram(p, o, bins=bins), bins, brier=brier_score(p, o))


def reliability_from_histogram(
    histogram: np.ndarray, bins: int = 10, brier: float | None = None
) -> dict[str, np.ndarray | float]:
    """:func:`reliability` from a probability histogram (:func:`probability_histogram`'s, e.g. summed over runs)
    whose bins, grouped ``bins`` at a time, make the diagram's. ``brier``: the exact Brier score where the caller
    summed it; else the binned one (each forecast rounded to its fine bin's mean). Resolution and uncertainty are
    exact, since they depend on the counts of cases and events only."""
    h = np.asarray(histogram, dtype=np.float64)
    if h.shape[-1] % bins:
        raise ValueError(f"a histogram of {h.shape[-1]} bins cannot be grouped into {bins}")
    coarse = h.reshape(3, bins, h.shape[-1] // bins).sum(-1)
    count, _, events = coarse
    n = count.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        obs_freq = events / count
    base = events.sum() / n if n else np.nan
    has = count > 0
    return {
        "bin_edges": _edges(bins),
        "count": count,
        "mean_prob": bin_means(coarse),
        "obs_freq": obs_freq,
        "brier": float(brier) if brier is not None else (binned_brier(h) if n else float("nan")),
        "reliability": binned_reliability(coarse),
        "resolution": float(np.sum(count[has] * (obs_freq[has] - base) ** 2) / max(n, 1)),
        "uncertainty": float(base * (1 - base)),
    }


def roc(prob: np.ndarray, event: np.ndarray, mask: np.ndarray | None = None) -> dict[str, np.ndarray | float]:
    """ROC curve (``pofd``, ``pod`` at each decision ``threshold``) and its area ``auc`` (NaN without both
    events and non-events)."""
    from sklearn.metrics import auc, roc_curve  # here: importing scikit-learn costs ~2 s a process

    p, o = _flatten(prob, event, mask)
    if p.size == 0 or o.min(initial=1) == o.max(initial=0):
        return {"pofd": np.array([0.0, 1.0]), "pod": np.array([0.0, 1.0]), "threshold": np.array([]), "auc": np.nan}
    pofd, pod, thr = roc_curve(o.astype(int), p)
    return {"pofd": pofd, "pod": pod, "threshold": thr, "auc": float(auc(pofd, pod))}


HISTOGRAM_BINS = 200


def _edges(bins: int) -> np.ndarray:
    return np.linspace(0, 1, bins + 1)


def probability_histogram(
    prob: np.ndarray, event: np.ndarray, mask: np.ndarray | None = None, bins: int = HISTOGRAM_BINS
) -> np.ndarray:
    """Per probability bin of width 1/bins: [count, sum of p, count of events], shape (3, bins)."""
    p, o = _flatten(prob, event, mask)
    idx = np.clip(np.digitize(p, _edges(bins)[1:-1]), 0, bins - 1)
    return np.stack(
        [
            np.bincount(idx, minlength=bins),
            np.bincount(idx, weights=p, minlength=bins),
            np.bincount(idx, weights=o, minlength=bins),
        ]
    ).astype(np.float64)


def bin_means(histogram: np.ndarray) -> np.ndarray:
    """Each bin's mean forecast probability (NaN where empty)."""
    count, sum_p, _ = histogram
    with np.errstate(invalid="ignore", divide="ignore"):
        return sum_p / count


def _occupied(histogram: np.ndarray, forecast: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, events and forecast (``forecast[k]``, default bin k's mean) of the bins that hold cases."""
    count, _, events = histogram
    has = count > 0
    p = bin_means(histogram) if forecast is None else np.asarray(forecast, dtype=np.float64)
    return count[has], events[has], p[has]


def binned_brier(histogram: np.ndarray, forecast: np.ndarray | None = None) -> float:
    """Brier score of the forecast ``forecast[k]`` (default: bin k's mean) for bin k's cases:
    sum_k (n_k p_k^2 - 2 p_k e_k + e_k) / N, e_k the events in bin k."""
    n, e, p = _occupied(histogram, forecast)
    return float(np.sum(n * p**2 - 2 * p * e + e) / max(n.sum(), 1))


def binned_reliability(histogram: np.ndarray, forecast: np.ndarray | None = None) -> float:
    """Murphy's (1973) reliability term sum_k n_k (p_k - o_k)^2 / N, with p_k as in ``binned_brier`` (0: a
    forecast P happens P of the time)."""
    n, e, p = _occupied(histogram, forecast)
    return float(np.sum(n * (p - e / n) ** 2) / max(n.sum(), 1))


def binned_roc_area(histogram: np.ndarray) -> float | np.ndarray:
    """ROC area (Mason 1982) with the bins as decision thresholds, trapezoid rule; NaN without both events and
    non-events. Any monotone recalibration leaves it unchanged. A histogram (3, bins) gives a number, a stack
    (..., 3, bins) an area per leading index."""
    h = np.asarray(histogram, dtype=np.float64)[..., ::-1]  # most confident bin first
    events, non_events = h[..., 2, :], h[..., 0, :] - h[..., 2, :]
    n_events, n_non = events.sum(-1, keepdims=True), non_events.sum(-1, keepdims=True)
    zero = np.zeros_like(n_events)
    with np.errstate(divide="ignore", invalid="ignore"):
        pod = np.concatenate([zero, np.cumsum(events, -1) / n_events], -1)
        pofd = np.concatenate([zero, np.cumsum(non_events, -1) / n_non], -1)
    area = np.sum(np.diff(pofd, axis=-1) * (pod[..., 1:] + pod[..., :-1]) / 2, -1)
    area = np.where((n_events[..., 0] > 0) & (n_non[..., 0] > 0), area, np.nan)
    return float(area) if area.ndim == 0 else area


def exceedance_tables(histogram: np.ndarray) -> dict[str, np.ndarray]:
    """The 2 x 2 table of the decision "event if p >= k / bins" at every bin edge k = 0 .. bins, from a histogram
    of shape (..., 3, bins): arrays of shape (..., bins + 1) keyed as ``engine.verify.categorical.TABLE_KEYS``.
    Hits are the events in bins k and above, false alarms their non-events; scored with ``categorical_scores``,
    one call gives e.g. CSI at every threshold."""
    h = np.asarray(histogram, dtype=np.float64)
    count, events = h[..., 0, :], h[..., 2, :]

    def at_or_above(x: np.ndarray) -> np.ndarray:
        tail = np.flip(np.cumsum(np.flip(x, -1), axis=-1), -1)
        return np.concatenate([tail, np.zeros_like(tail[..., :1])], axis=-1)

    forecast, hits = at_or_above(count), at_or_above(events)
    n_events, n = events.sum(-1, keepdims=True), count.sum(-1, keepdims=True)
    return {
        "hits": hits,
        "misses": n_events - hits,
        "false_alarms": forecast - hits,
        "correct_negatives": n - n_events - (forecast - hits),
    }


def roc_from_histogram(histogram: np.ndarray) -> dict[str, np.ndarray | float]:
    """:func:`roc` from a probability histogram: the decision "event if p >= k / bins" at every bin edge, from the
    most confident (``pofd`` 0) to "always" (1, 1), with the edges that change nothing left out; ``auc`` by
    :func:`binned_roc_area`. Equal to the exact curve where no bin holds two distinct forecast values (a
    calibrated forecast takes few)."""
    h = np.asarray(histogram, dtype=np.float64)
    t = exceedance_tables(h)
    with np.errstate(invalid="ignore", divide="ignore"):
        pod = (t["hits"] / (t["hits"] + t["misses"]))[::-1]
        pofd = (t["false_alarms"] / (t["false_alarms"] + t["correct_negatives"]))[::-1]
    threshold = _edges(h.shape[-1])[::-1]
    moved = np.r_[True, (np.diff(pod) != 0) | (np.diff(pofd) != 0)]
    moved[-1] = True  # always ends at (1, 1)
    return {"pofd": pofd[moved], "pod": pod[moved], "threshold": threshold[moved], "auc": binned_roc_area(h)}


def pod_at_pofd(histogram: np.ndarray, pofd: Sequence[float]) -> np.ndarray:
    """Points of the binned ROC curve: the hit rate POD = h / (h + m) at the given false-alarm rates
    POFD = f / (f + c), linear between the bin edges. Where the area says how well a forecast ranks over all
    thresholds, these say where: a rare event's CSI is decided at a POFD near its base rate, far left on the curve."""
    t = exceedance_tables(histogram)
    with np.errstate(invalid="ignore", divide="ignore"):
        hit_rate = t["hits"] / (t["hits"] + t["misses"])
        false_alarm_rate = t["false_alarms"] / (t["false_alarms"] + t["correct_negatives"])
    return np.interp(np.asarray(pofd, dtype=np.float64), false_alarm_rate[::-1], hit_rate[::-1])


def paired_bootstrap_roc_area(
    cases_a: np.ndarray, cases_b: np.ndarray, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Paired percentile bootstrap over cases of ROC area(A) - ROC area(B), as for CSI in
    ``engine.verify.categorical.paired_bootstrap_difference`` (Hamill 1999): ``cases_a[i]`` and ``cases_b[i]``
    are the probability histograms of the same case (run), each resample draws cases with replacement for both."""
    a, b = np.asarray(cases_a, dtype=np.float64), np.asarray(cases_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"histograms of {a.shape[0]} cases for A but {b.shape[0]} for B: pair the same cases")
    picks = np.random.default_rng(seed).integers(0, len(a), size=(n_resamples, len(a)))
    # each resample's summed histograms, as (resamples, cases) draw counts times the cases' histograms
    weights = np.stack([np.bincount(p, minlength=len(a)) for p in picks]).astype(np.float64)
    diff = binned_roc_area(np.tensordot(weights, a, 1)) - binned_roc_area(np.tensordot(weights, b, 1))
    return paired_summary(binned_roc_area(a.sum(0)) - binned_roc_area(b.sum(0)), diff, confidence)

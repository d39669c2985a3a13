"""Categorical (yes/no event) scores from 2 x 2 contingency tables, and the 3-class confusion matrix.

Event = value >= threshold. Tables are summed over pixels, lead times and cases *before* any ratio is taken.
References: Jolliffe & Stephenson (2012), *Forecast Verification*, 2nd ed., ch. 3; WWRP/WGNE Joint Working
Group on Forecast Verification Research, https://www.cawcr.gov.au/projects/verification/ ; the ``scores``
package (Leeuwenburg et al. 2024, JOSS 9(99), 6889), which the tests use as the reference implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from engine.channels import CLASS_THRESHOLDS_MM

TABLE_KEYS = ("hits", "misses", "false_alarms", "correct_negatives")
SCORE_NAMES = ("csi", "pod", "far", "sr", "bias", "ets", "hss", "pss", "f1", "sedi", "accuracy", "base_rate")


def _valid(forecast: np.ndarray, observed: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    valid = np.isfinite(forecast) & np.isfinite(observed)
    if mask is not None:
        valid &= np.broadcast_to(np.asarray(mask, dtype=bool), valid.shape)
    return valid


def contingency_table(
    forecast: np.ndarray,
    observed: np.ndarray,
    threshold: float,
    mask: np.ndarray | None = None,
    per_leading: bool = False,
    forecast_threshold: float | None = None,
) -> dict[str, np.ndarray | int]:
    """Counts of hits, misses, false alarms and correct negatives for the event ``value >= threshold``; the
    forecast's event at ``forecast_threshold`` where given (say a probability).

    Pixels where ``mask`` is False or either input is NaN are left out. With ``per_leading`` the counts are kept
    for every index of the leading dimensions (all but the last two, e.g. one table per lead time); otherwise
    they are summed over everything. Inputs may be numpy arrays or xarray DataArrays of the same shape.
    """
    return contingency_events(*_yes_no(forecast, observed, threshold, mask, forecast_threshold), per_leading)


def any_hour_table(
    forecast: np.ndarray,
    observed: np.ndarray,
    threshold: float,
    mask: np.ndarray | None = None,
    forecast_threshold: float | None = None,
) -> dict[str, int]:
    """:func:`any_hour_events` for the event "value >= threshold" (hours along the leading axis); the forecast's
    event at ``forecast_threshold`` where given (say a probability). Hours outside ``mask`` or with either value
    NaN are not judged."""
    return any_hour_events(*_yes_no(forecast, observed, threshold, mask, forecast_threshold))


def _yes_no(
    forecast: np.ndarray,
    observed: np.ndarray,
    threshold: float,
    mask: np.ndarray | None,
    forecast_threshold: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forecast's and the observation's events and where they are judged, for the tables above."""
    f, o = np.asarray(forecast), np.asarray(observed)
    if f.shape != o.shape:
        raise ValueError(f"forecast {f.shape} and observed {o.shape} differ in shape")
    at = threshold if forecast_threshold is None else forecast_threshold
    with np.errstate(invalid="ignore"):
        return f >= at, o >= threshold, _valid(f, o, mask)


def any_hour_events(forecast_event: np.ndarray, observed_event: np.ndarray, valid: np.ndarray) -> dict[str, int]:
    """Counts for the event at some hour of a run, from yes/no fields (hour, ...) and where each hour is judged.

    At each pixel the forecast has the event if it has it at any judged hour, and so does the observation: a hit
    wherever both had it, whichever hours they were. A temporal neighbourhood as wide as the run (Ebert 2008,
    *Meteorol. Appl.* 15, 51-64, neighbourhood verification in space and time): it forgives timing, not place. A
    forecast event at an hour not judged (no observation) counts for nothing; pixels with no hour judged are left
    out.
    """
    forecast_any = (valid & forecast_event).any(axis=0)
    observed_any = (valid & observed_event).any(axis=0)
    counts = contingency_events(forecast_any, observed_any, valid.any(axis=0))
    return {k: int(v) for k, v in counts.items()}


def contingency_events(
    forecast_event: np.ndarray, observed_event: np.ndarray, valid: np.ndarray, per_leading: bool = False
) -> dict[str, np.ndarray | int]:
    """The 2 x 2 counts from yes/no fields directly (e.g. "P(heavy) >= 0.3" against "QPE >= 10 mm/h")."""
    code = forecast_event.astype(np.int64) * 2 + observed_event  # 3 hit, 1 miss, 2 false alarm, 0 cn
    code = np.where(valid, code, 4)
    if per_leading and code.ndim > 2:
        lead_shape = code.shape[:-2]
        n = int(np.prod(lead_shape))
        flat = code.reshape(n, -1) + 5 * np.arange(n)[:, None]
        counts = np.bincount(flat.ravel(), minlength=5 * n).reshape(*lead_shape, 5)
    else:
        counts = np.bincount(code.ravel(), minlength=5)
    return {
        "hits": counts[..., 3],
        "misses": counts[..., 1],
        "false_alarms": counts[..., 2],
        "correct_negatives": counts[..., 0],
    }


def pixel_tables(forecast_event: np.ndarray, observed_event: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """The 2 x 2 counts at each pixel (the last two dimensions), summed over the leading ones (lead times, runs):
    maps of where a forecast hits, misses and false-alarms. A pixel's forecast-minus-observed event count,
    ``false_alarms - misses``, is its frequency bias as a difference, defined where no event was observed."""
    f, o, v = (np.asarray(a, dtype=bool) for a in (forecast_event, observed_event, valid))
    lead = tuple(range(f.ndim - 2))
    return {
        "hits": (f & o & v).sum(axis=lead),
        "misses": (~f & o & v).sum(axis=lead),
        "false_alarms": (f & ~o & v).sum(axis=lead),
        "correct_negatives": (~f & ~o & v).sum(axis=lead),
    }


Table = Mapping[str, np.ndarray | int]


def sum_tables(tables: Iterable[Table], axis: int | None = None) -> dict[str, np.ndarray | int]:
    """Add tables (the only right way to aggregate over cases); ``axis`` sums within per-lead tables."""
    tables = list(tables)
    out = {k: sum(np.asarray(t[k], dtype=np.int64) for t in tables) for k in TABLE_KEYS}
    if axis is not None:
        out = {k: np.asarray(v).sum(axis=axis) for k, v in out.items()}
    return out


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), np.nan)


def critical_success_index(table: Mapping[str, np.ndarray | int]) -> np.ndarray | float:
    """CSI (threat score; Schaefer 1990, Weather and Forecasting 5, 570-575) = h / (h + m + f), NaN where
    h + m + f = 0: ``categorical_scores``'s "csi" alone, for searches over many decision thresholds that need
    no other score."""
    h, m, f = (np.asarray(table[k], dtype=float) for k in TABLE_KEYS[:3])
    csi = _div(h, h + m + f)
    return float(csi) if np.ndim(csi) == 0 else csi


def categorical_scores(table: Mapping[str, np.ndarray | int]) -> dict[str, np.ndarray | float]:
    """Scores of a 2 x 2 table (h hits, m misses, f false alarms, c correct negatives, n = h + m + f + c).

    * CSI (threat score) = h / (h + m + f)
    * POD (hit rate) = h / (h + m);  POFD F = f / (f + c)
    * FAR (false alarm *ratio*) = f / (h + f);  SR (success ratio) = 1 - FAR = h / (h + f)
    * bias (frequency bias) = (h + f) / (h + m)
    * ETS (Gilbert skill score) = (h - h_r) / (h + m + f - h_r), h_r = (h + m)(h + f) / n
    * HSS (Heidke) = 2 (h c - m f) / ((h + m)(m + c) + (h + f)(f + c))
    * PSS (Peirce, Hanssen-Kuipers) = POD - F
    * F1 = 2 h / (2 h + m + f)
    * SEDI = (ln F - ln H - ln(1 - F) + ln(1 - H)) / (ln F + ln H + ln(1 - F) + ln(1 - H)), H = POD
      (Ferro & Stephenson 2011, Weather and Forecasting 26, 699-713)
    * accuracy (fraction correct) = (h + c) / n;  base rate = (h + m) / n

    Undefined ratios (zero denominators) are NaN, never an error. Works elementwise on per-lead tables.
    """
    h, m, f, c = (np.asarray(table[k], dtype=float) for k in TABLE_KEYS)
    n = h + m + f + c
    pod, pofd = _div(h, h + m), _div(f, f + c)
    h_random = _div((h + m) * (h + f), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        lf, lh, l1f, l1h = np.log(pofd), np.log(pod), np.log1p(-pofd), np.log1p(-pod)
        sedi = _div(lf - lh - l1f + l1h, lf + lh + l1f + l1h)
    scores = {
        "csi": critical_success_index(table),
        "pod": pod,
        "far": _div(f, h + f),
        "sr": _div(h, h + f),
        "bias": _div(h + f, h + m),
        "ets": _div(h - h_random, h + m + f - h_random),
        "hss": _div(2 * (h * c - m * f), (h + m) * (m + c) + (h + f) * (f + c)),
        "pss": pod - pofd,
        "f1": _div(2 * h, 2 * h + m + f),
        "sedi": sedi,
        "accuracy": _div(h + c, n),
        "base_rate": _div(h + m, n),
    }
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in scores.items()}


def rain_class(values: np.ndarray, thresholds: Sequence[float] = CLASS_THRESHOLDS_MM) -> np.ndarray:
    """Class index per pixel: 0 below thresholds[0], 1 up to thresholds[1], 2 above; -1 where NaN."""
    values = np.asarray(values)
    with np.errstate(invalid="ignore"):
        out = np.digitize(values, thresholds).astype(np.int8)
    return np.where(np.isfinite(values), out, -1)


def confusion_matrix(
    forecast_class: np.ndarray, observed_class: np.ndarray, mask: np.ndarray | None = None, n_classes: int = 3
) -> np.ndarray:
    """``matrix[i, j]`` = pixels forecast in class i and observed in class j (classes < 0 are left out)."""
    fc, oc = np.asarray(forecast_class), np.asarray(observed_class)
    valid = (fc >= 0) & (oc >= 0)
    if mask is not None:
        valid &= np.broadcast_to(np.asarray(mask, dtype=bool), valid.shape)
    idx = fc[valid].astype(np.int64) * n_classes + oc[valid]
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def class_tables(matrix: np.ndarray) -> list[dict[str, int]]:
    """One-vs-rest 2 x 2 table for each class of a confusion matrix (rows forecast, columns observed)."""
    total = int(matrix.sum())
    out = []
    for k in range(matrix.shape[0]):
        h = int(matrix[k, k])
        f = int(matrix[k].sum()) - h
        m = int(matrix[:, k].sum()) - h
        out.append({"hits": h, "misses": m, "false_alarms": f, "correct_negatives": total - h - m - f})
    return out


def _as_counts(tables: Sequence[Mapping[str, int]]) -> np.ndarray:
    """(cases, 4) integer array of contingency tables, in ``TABLE_KEYS`` order."""
    return np.array([[t[k] for k in TABLE_KEYS] for t in tables], dtype=np.int64).reshape(-1, len(TABLE_KEYS))


def _scores_of(counts: np.ndarray, score: str) -> np.ndarray:
    """The score of each row of a (n, 4) count array."""
    return np.asarray(categorical_scores(dict(zip(TABLE_KEYS, counts.T, strict=True)))[score], dtype=float)


def bootstrap_interval(
    case_tables: Sequence[Mapping[str, int]],
    score: str = "csi",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a score, resampling whole cases (runs) with replacement.

    Resampling runs rather than pixels respects the strong spatial and temporal correlation within a run
    (Hamill 1999, Weather and Forecasting 14, 155-167). Each resample sums its tables before the ratio.
    """
    counts = _as_counts(case_tables)
    if len(counts) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(counts), size=(n_resamples, len(counts)))
    values = _scores_of(counts[picks].sum(axis=1), score)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def paired_summary(difference: float, resampled: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """A paired bootstrap's answer: the difference on all cases, the percentile interval of its ``resampled``
    values (non-finite ones dropped) and ``p_better``, the share of resamples above zero."""
    diff = np.asarray(resampled, dtype=float)
    diff = diff[np.isfinite(diff)]
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(diff, [alpha, 1 - alpha]) if diff.size else (np.nan, np.nan)
    return {
        "difference": float(difference),
        "low": float(lo),
        "high": float(hi),
        "p_better": float(np.mean(diff > 0)) if diff.size else float("nan"),
    }


def paired_bootstrap_difference(
    tables_a: Sequence[Mapping[str, int]],
    tables_b: Sequence[Mapping[str, int]],
    score: str = "csi",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Is forecast A better than forecast B on the same cases? Paired percentile bootstrap of score(A) - score(B).

    ``tables_a[i]`` and ``tables_b[i]`` score the same case (run); each resample draws runs with replacement and
    uses the same draw for both, so the case-to-case variability they share cancels (Hamill 1999, Weather and
    Forecasting 14, 155-167, section 3). Returns the difference on all cases, its interval, and ``p_better``, the
    share of resamples in which A scores higher (about 0.5 when the two cannot be told apart).
    """
    if len(tables_a) != len(tables_b):
        raise ValueError(f"{len(tables_a)} cases for A but {len(tables_b)} for B: pair the same cases")
    a, b = _as_counts(tables_a), _as_counts(tables_b)
    if len(a) == 0:
        nan = float("nan")
        return {"difference": nan, "low": nan, "high": nan, "p_better": nan}
    picks = np.random.default_rng(seed).integers(0, len(a), size=(n_resamples, len(a)))
    diff = _scores_of(a[picks].sum(axis=1), score) - _scores_of(b[picks].sum(axis=1), score)
    whole = _scores_of(a.sum(axis=0, keepdims=True), score)[0] - _scores_of(b.sum(axis=0, keepdims=True), score)[0]
    return paired_summary(whole, diff, confidence)

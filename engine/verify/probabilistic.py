"""Scores for event probabilities (e.g. the model's P(rain >= 10 mm/h)).

* Brier score BS = mean (p - o)^2 (Brier 1950, Monthly Weather Review 78, 1-3), o in {0, 1}.
* Murphy (1973) decomposition over K probability bins: BS = REL - RES + UNC with
  REL = sum_k n_k (p_k - o_k)^2 / N, RES = sum_k n_k (o_k - o)^2 / N, UNC = o (1 - o), where p_k and o_k are the
  mean forecast probability and observed frequency in bin k (exact when forecasts are constant within bins).
* ROC: POD vs POFD as the decision probability varies; area by the trapezoid rule (Mason 1982), via
  scikit-learn's ``roc_curve``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import auc, roc_curve


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
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    count = np.bincount(idx, minlength=bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = np.bincount(idx, weights=p, minlength=bins) / count
        obs_freq = np.bincount(idx, weights=o, minlength=bins) / count
    n = max(p.size, 1)
    base = o.mean() if p.size else np.nan
    has = count > 0
    return {
        "bin_edges": edges,
        "count": count,
        "mean_prob": mean_prob,
        "obs_freq": obs_freq,
        "brier": brier_score(p, o),
        "reliability": float(np.sum(count[has] * (mean_prob[has] - obs_freq[has]) ** 2) / n),
        "resolution": float(np.sum(count[has] * (obs_freq[has] - base) ** 2) / n),
        "uncertainty": float(base * (1 - base)),
    }


def roc(prob: np.ndarray, event: np.ndarray, mask: np.ndarray | None = None) -> dict[str, np.ndarray | float]:
    """ROC curve (``pofd``, ``pod`` at each decision ``threshold``) and its area ``auc`` (NaN without both
    events and non-events)."""
    p, o = _flatten(prob, event, mask)
    if p.size == 0 or o.min(initial=1) == o.max(initial=0):
        return {"pofd": np.array([0.0, 1.0]), "pod": np.array([0.0, 1.0]), "threshold": np.array([]), "auc": np.nan}
    pofd, pod, thr = roc_curve(o.astype(int), p)
    return {"pofd": pofd, "pod": pod, "threshold": thr, "auc": float(auc(pofd, pod))}

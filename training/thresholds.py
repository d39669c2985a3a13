"""What the decision threshold costs in CSI: the validation-tuned threshold against hindsight.

CSI scores a yes/no forecast, so a network's CSI is its ranking of the pixels *and* the probability threshold it
decides at. ``evaluate`` tunes the threshold on the validation runs (the grid ``TAUS``) and applies it to the test
runs and to a held-out season. From the per-run probability histograms that ``training probabilities`` collects,
the same CSI is set here beside the best CSI that any threshold (a bin edge, steps of 1/200) would have given on
that data: *hindsight*, an upper bound no forecast can claim, because it picks the threshold by looking at the
observations it is scored against. The gap between the two is what the threshold's transfer lost; hindsight CSI of
two networks compares what each can do at its best threshold, whatever its threshold does on new data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.calibration import calibrated_bins, fit_isotonic
from engine.verify.categorical import TABLE_KEYS, categorical_scores, critical_success_index, paired_summary
from engine.verify.probabilistic import exceedance_tables
from training.evaluate import TAUS


def _scores(histogram: np.ndarray) -> dict[str, np.ndarray]:
    return categorical_scores(exceedance_tables(histogram))


def tuned_edge(histogram: np.ndarray, taus: Sequence[float] = TAUS) -> int:
    """The bin edge of the threshold in ``taus`` with the highest CSI on ``histogram`` (3, bins), the first of
    equals: the choice ``training.evaluate.tune_decisions`` makes on the validation runs."""
    bins = histogram.shape[-1]
    edges = [round(t * bins) for t in taus]
    csi = np.nan_to_num(critical_success_index(exceedance_tables(histogram))[edges], nan=-1.0)
    return edges[int(np.argmax(csi))]


def hindsight_edge(histogram: np.ndarray) -> np.ndarray:
    """The bin edge k in 1 .. bins - 1 whose decision "p >= k / bins" has the highest CSI on ``histogram``
    (..., 3, bins), one per leading index."""
    csi = np.nan_to_num(critical_success_index(exceedance_tables(histogram))[..., 1:-1], nan=-1.0)
    return np.argmax(csi, axis=-1) + 1


# Expected-count matching: a decision rule decided on before its results were seen (results/experiments.md).
RATIOS = tuple(round(float(r), 2) for r in np.arange(0.5, 3.01, 0.1))


def matched_edges(histograms: np.ndarray, knots: dict, ratio: float) -> np.ndarray:
    """Per run (histograms (runs, 3, bins)), the bin edge k at which the pixels forecast "p >= k / bins" number
    closest to ``ratio`` times the events the calibrated probabilities expect in that run (the sum of the
    calibrated P over its pixels): a threshold that follows each run's own probabilities instead of one fixed
    number, in the spirit of frequency matching (Zhu and Luo 2015, Weather and Forecasting 30, 1109-1124)."""
    edges = []
    for h in histograms:
        expected = float(np.nansum(h[0] * calibrated_bins(h, knots)))
        forecast = exceedance_tables(h)
        count = forecast["hits"] + forecast["false_alarms"]
        edges.append(1 + int(np.argmin(np.abs(count[1:-1] - ratio * expected))))
    return np.asarray(edges)


def tables_at(histograms: np.ndarray, edges: np.ndarray) -> list[dict[str, int]]:
    """Each run's 2 x 2 table at its own bin edge."""
    out = []
    for h, k in zip(histograms, edges, strict=True):
        t = exceedance_tables(h)
        out.append({key: round(float(t[key][k])) for key in TABLE_KEYS})
    return out


def tuned_ratio(histograms: np.ndarray, knots: dict, ratios: Sequence[float] = RATIOS) -> float:
    """The ratio of ``matched_edges`` with the highest CSI over the runs given (the validation runs), the first of
    equals."""
    best, best_csi = ratios[0], -1.0
    for r in ratios:
        total = {
            key: sum(t[key] for t in tables_at(histograms, matched_edges(histograms, knots, r))) for key in TABLE_KEYS
        }
        csi = float(np.nan_to_num(categorical_scores(total)["csi"], nan=-1.0))
        if csi > best_csi:
            best, best_csi = r, csi
    return best


def matched_rule(val: np.ndarray) -> tuple[dict, float]:
    """Expected-count matching as a network would ship it: calibration knots and ratio fitted on the validation
    runs' histograms ``val`` (runs, 3, bins)."""
    knots = fit_isotonic(val.sum(0))
    return knots, tuned_ratio(val, knots)


def matched_tables(histograms: np.ndarray, rule: tuple[dict, float]) -> list[dict[str, int]]:
    """Each run of ``histograms`` decided at its matched edge under ``rule`` (``matched_rule``'s knots, ratio)."""
    knots, ratio = rule
    return tables_at(histograms, matched_edges(histograms, knots, ratio))


def threshold_costs(histograms: dict[str, np.ndarray], rule: tuple[dict, float] | None = None) -> dict:
    """One network, one event: the threshold tuned on ``histograms["val"]`` (runs, 3, bins) and its validation
    CSI; on every other data set the CSI and frequency bias at that threshold, and the hindsight threshold, CSI
    and bias; and the same with expected-count matching (``rule``, default ``matched_rule`` of the validation
    runs)."""
    val = histograms["val"].sum(0)
    bins = val.shape[-1]
    k = tuned_edge(val)
    rule = rule or matched_rule(histograms["val"])
    out: dict = {
        "threshold": k / bins,
        "validation_csi": round(float(_scores(val)["csi"][k]), 4),
        "matched_ratio": rule[1],
    }
    for dataset, h in histograms.items():
        if dataset == "val":
            continue
        scores, best = _scores(h.sum(0)), int(hindsight_edge(h.sum(0)))
        out[dataset] = {
            "csi": round(float(scores["csi"][k]), 4),
            "bias": round(float(scores["bias"][k]), 3),
            "hindsight_threshold": best / bins,
            "hindsight_csi": round(float(scores["csi"][best]), 4),
            "hindsight_bias": round(float(scores["bias"][best]), 3),
        }
        tables = matched_tables(h, rule)
        matched = categorical_scores({key: sum(t[key] for t in tables) for key in TABLE_KEYS})
        out[dataset] |= {
            "matched_csi": round(float(matched["csi"]), 4),
            "matched_bias": round(float(matched["bias"]), 3),
        }
    return out


def _pooled_csi(seeds: Sequence[np.ndarray], weights: np.ndarray, edges: Sequence[int] | None) -> np.ndarray:
    """CSI of the seeds' tables summed, for each row of ``weights`` (resamples, runs: how often each run is
    drawn). Each seed decides at its ``edges`` entry, or (None) at its own hindsight edge in each resample."""
    total = np.zeros((len(weights), len(TABLE_KEYS)))
    for i, h in enumerate(seeds):
        drawn = np.einsum("rn,nkb->rkb", weights, h)
        tables = exceedance_tables(drawn)
        k = hindsight_edge(drawn) if edges is None else np.full(len(weights), edges[i])
        total += np.stack([np.take_along_axis(tables[key], k[:, None], -1)[:, 0] for key in TABLE_KEYS], -1)
    return np.asarray(critical_success_index(dict(zip(TABLE_KEYS, total.T, strict=True))), dtype=float)


def paired_bootstrap_csi(
    seeds_a: Sequence[np.ndarray],
    seeds_b: Sequence[np.ndarray],
    edges_a: Sequence[int] | None = None,
    edges_b: Sequence[int] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Pooled CSI(A) - CSI(B) over the same runs, each side's seeds (per-run histograms, (runs, 3, bins) each)
    deciding at their fixed ``edges`` or, with None, at their hindsight edges, found again in every resample;
    with its paired percentile bootstrap over runs (Hamill 1999; as ``engine.verify.categorical.
    paired_bootstrap_difference``)."""
    runs = seeds_a[0].shape[0]
    if any(h.shape[0] != runs for h in [*seeds_a, *seeds_b]):
        raise ValueError("every seed's histograms must cover the same runs")
    picks = np.random.default_rng(seed).integers(0, runs, size=(n_resamples, runs))
    weights = np.stack([np.bincount(p, minlength=runs) for p in picks]).astype(np.float64)
    all_runs = np.ones((1, runs))
    diff = _pooled_csi(seeds_a, weights, edges_a) - _pooled_csi(seeds_b, weights, edges_b)
    whole = _pooled_csi(seeds_a, all_runs, edges_a) - _pooled_csi(seeds_b, all_runs, edges_b)
    return paired_summary(whole[0], diff, confidence)
